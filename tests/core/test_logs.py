"""logs.py: a point's log without ipykernel's transport warning, everything else kept."""

from __future__ import annotations

from jupyter_mvdp.core.logs import clean_log

WARNING = (
    "\x1b[33m[W 2026-12-06 12:00:00.000 IPKernelApp]\x1b[0m Kernel is running over TCP without "
    "encryption. All communication (including code and outputs) is sent in plain text\n"
)


def test_the_transport_warning_is_dropped_and_the_rest_kept():
    log = "start\n" + WARNING + "\x1b[31mValueError\x1b[0m: boom\nend"
    assert clean_log(log) == "start\n\x1b[31mValueError\x1b[0m: boom\nend"


def test_a_log_without_it_is_unchanged():
    assert clean_log("a\nb\n") == "a\nb\n"
    assert clean_log("") == ""
