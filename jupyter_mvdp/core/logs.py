"""A point's log as the user reads it: without the kernel's transport warning.

ipykernel warns on every start that it "is running over TCP without encryption" (the
kernels a point runs in listen on localhost only): noise in every log, on every target, that
reads like a fault. The log keeps everything else as the target wrote it (ANSI colours too:
the lab renders them as it renders a stream output).
"""

from __future__ import annotations

_TRANSPORT_WARNING = "running over TCP without encryption"


def clean_log(text: str) -> str:
    """The log without ipykernel's transport warning lines."""
    if _TRANSPORT_WARNING not in text:
        return text
    return "".join(
        line for line in text.splitlines(keepends=True) if _TRANSPORT_WARNING not in line
    )
