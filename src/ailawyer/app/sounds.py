"""The notification sounds (`ailawyer.notifications.sounds`), synthesised by the project
itself so no audio is downloaded.

Each sound is a few sine partials shaped by raised-cosine envelopes, written as
44.1 kHz mono 16-bit WAV. The output is deterministic, so rebuilding produces
byte-identical files.
"""

from __future__ import annotations

import math
import sys
import wave
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from ailawyer.notifications.sounds import SOUND_FILES, SoundEvent

SAMPLE_RATE = 44_100
# Quiet enough not to startle anyone in an office, loud enough over a laptop speaker.
PEAK_AMPLITUDE = 0.45
# Ramps this long are inaudible as a fade but remove the click of a hard edge.
ATTACK_SECONDS = 0.008
RELEASE_SECONDS = 0.04


@dataclass(frozen=True, slots=True)
class _Tone:
    """One note: a fundamental with softer overtones and an exponential decay."""

    start: float
    duration: float
    frequency: float
    gain: float = 1.0
    # Per second; higher values ring out faster (a bell rather than an organ).
    decay: float = 6.0
    overtones: tuple[float, ...] = (0.25, 0.08)


_SCORES: Mapping[SoundEvent, tuple[_Tone, ...]] = MappingProxyType(
    {
        # E5 then A5: a rising fourth reads as "done" without demanding attention.
        SoundEvent.JOB_COMPLETED: (
            _Tone(start=0.0, duration=0.28, frequency=659.25, gain=0.8),
            _Tone(start=0.12, duration=0.34, frequency=880.0, gain=0.9),
        ),
        # A4 then E4: lower and falling; fewer overtones keep it soft rather than harsh.
        SoundEvent.JOB_FAILED: (
            _Tone(start=0.0, duration=0.26, frequency=440.0, decay=4.0, overtones=(0.15,)),
            _Tone(start=0.18, duration=0.34, frequency=329.63, decay=4.0, overtones=(0.15,)),
        ),
        # Three short, even beeps: the familiar "look here" pattern.
        SoundEvent.SYSTEM_ALERT: tuple(
            _Tone(start=i * 0.15, duration=0.1, frequency=987.77, decay=2.0, overtones=(0.1,))
            for i in range(3)
        ),
    }
)


def _envelope(t: float, duration: float) -> float:
    """Raised-cosine attack and release, so every note starts and ends at zero."""
    if t < ATTACK_SECONDS:
        return 0.5 - 0.5 * math.cos(math.pi * t / ATTACK_SECONDS)
    remaining = duration - t
    if remaining < RELEASE_SECONDS:
        return 0.5 - 0.5 * math.cos(math.pi * max(remaining, 0.0) / RELEASE_SECONDS)
    return 1.0


def _render(tones: tuple[_Tone, ...]) -> array[int]:
    """Mix the tones into normalised 16-bit samples."""
    total = max(tone.start + tone.duration for tone in tones)
    mix = [0.0] * math.ceil(total * SAMPLE_RATE)
    for tone in tones:
        first = round(tone.start * SAMPLE_RATE)
        count = round(tone.duration * SAMPLE_RATE)
        partials = ((1.0, 1), *((level, n + 2) for n, level in enumerate(tone.overtones)))
        for i in range(min(count, len(mix) - first)):
            t = i / SAMPLE_RATE
            wave_value = sum(
                level * math.sin(2 * math.pi * tone.frequency * harmonic * t)
                for level, harmonic in partials
            )
            amplitude = tone.gain * math.exp(-tone.decay * t) * _envelope(t, tone.duration)
            mix[first + i] += amplitude * wave_value
    # Normalising keeps overlapping notes from clipping and makes all sounds equally loud.
    peak = max(abs(value) for value in mix) or 1.0
    scale = PEAK_AMPLITUDE * 32767 / peak
    samples = array("h", (round(value * scale) for value in mix))
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    return samples


def generate_sounds(target_dir: Path) -> list[Path]:
    """Write one WAV file per SoundEvent into target_dir and return their paths."""
    target_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for event, file_name in SOUND_FILES.items():
        path = target_dir / file_name
        tmp = path.with_suffix(".wav.tmp")
        with wave.open(str(tmp), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SAMPLE_RATE)
            out.writeframes(_render(_SCORES[event]).tobytes())
        # A browser fetching the file mid-build sees the old or the new sound, never half.
        tmp.replace(path)
        written.append(path)
    return written
