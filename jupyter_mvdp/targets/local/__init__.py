"""The embedded local runner: papermill in worker processes on this machine."""

from .target import LocalTarget

__all__ = ["LocalTarget"]
