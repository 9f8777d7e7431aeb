"""The embedded local runner: papermill in worker processes on this machine.

- ``target``: ``LocalTarget``, the target's settings and the runs of this process;
- ``runner``: ``LocalRun``, one run's scheduler (rounds, parallelism, timeouts, retries,
  cancel, the canary's decision);
- ``worker``: the worker process that runs one point with papermill and writes its
  provenance.
"""

from .target import LocalTarget, kernel_options

__all__ = ["LocalTarget", "kernel_options"]
