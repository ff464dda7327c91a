"""How a job's attempts and its error read in the administrators' notices and on its page."""

from __future__ import annotations

import pytest

from ailawyer.app.web.admin.jobs.route_support import job_url
from ailawyer.jobs.attempts import count_attempts
from ailawyer.worker.failures import job_page_path, short_error

TRACEBACK = """Traceback (most recent call last):
  File "/srv/ailawyer/.venv/lib/python3.11/site-packages/bullmq/worker.py", line 10, in run
    raise OSError("kaputt")
OSError: [Errno 5] Input/output error: '/var/lib/ailawyer/uploads/3f/ab/3fab.pdf'"""


@pytest.mark.parametrize(
    ("made", "maximum", "manual", "text"),
    [
        (1, 4, 0, "1 von 4 automatisch"),
        (4, 4, 0, "4 von 4 automatisch"),
        # Each manual retry started a fresh series (bullmq's attemptsMade reset).
        (4, 4, 2, "4 von 4 automatisch, 2 × manuell wiederholt"),
        (0, 4, 1, "0 von 4 automatisch, 1 × manuell wiederholt"),
        # bullmq's own bulk retry neither resets nor counts: runs beyond the maximum were
        # started by hand.
        (6, 4, 0, "4 von 4 automatisch, 2 × manuell wiederholt"),
    ],
)
def test_automatic_attempts_never_exceed_their_maximum(
    made: int, maximum: int, manual: int, text: str
) -> None:
    attempts = count_attempts(made, maximum, manual)

    assert attempts.text == text
    assert attempts.automatic <= attempts.maximum


def test_an_error_in_a_notice_is_its_first_line_without_file_paths() -> None:
    assert short_error("OSError: [Errno 5] Input/output error: '/var/lib/x/uploads/a.pdf'") == (
        "OSError: [Errno 5] Input/output error: '…'"
    )
    # A message carrying a trace (a wrapped error's): the error it ends in.
    assert short_error(f"RuntimeError: {TRACEBACK}") == "OSError: [Errno 5] Input/output error: '…'"
    # URLs are no file paths.
    assert short_error("ConnectionError: redis://127.0.0.1:6379/0 refused") == (
        "ConnectionError: redis://127.0.0.1:6379/0 refused"
    )
    assert len(short_error("ValueError: " + "x" * 1000)) == 300


def test_the_notice_links_to_the_job_page_of_the_administration() -> None:
    assert job_page_path("dokumente", "dokument-7") == job_url("dokumente", "dokument-7")
    assert job_page_path("test", "a/b") == job_url("test", "a/b")
