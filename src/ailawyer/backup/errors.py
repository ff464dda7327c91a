"""The one error of backup and restore."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore cannot go on; the message is German, for the operator."""
