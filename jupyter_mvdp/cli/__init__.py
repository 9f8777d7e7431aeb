"""`jupyter mvdp`: the command line (commands, and the printing of their results)."""

from .commands import EXIT_BAD_INPUT, EXIT_OK, EXIT_RUN_FAILED, main

__all__ = ["EXIT_BAD_INPUT", "EXIT_OK", "EXIT_RUN_FAILED", "main"]
