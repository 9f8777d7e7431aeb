"""Warm kernels: pay a notebook's imports once per grid, not once per point.

A *zygote* is a Python process that has imported ipykernel and the modules the notebook
imports, then waits. For every point, the point's kernel manager asks it (over a unix socket)
to ``fork`` a fresh kernel: a new process with a clean namespace whose ``import pandas`` is
already done. jupyter_client drives that kernel through a kernel provisioner
(``ZygoteProvisioner``): connection file, interrupt (SIGINT to its process group), shutdown
and kill work as for any kernel, so papermill and nbclient see nothing different.

Which modules are preloaded (decided once, in preload.py):

- the top-level modules the notebook's code cells import (``ast``; relative imports and
  ``__future__`` aside), minus ``NEVER_PRELOAD`` (GPU, distributed and fork-unsafe runtimes)
  and minus any name a file or folder in the notebook's own folder would shadow;
- of those, only the ones that import cleanly in the zygote: no exception, nothing printed or
  warned (a fresh kernel would show it in the first cell's output), and no Python thread
  started (threads do not survive ``fork``). A module that breaks a rule is left to the
  kernel to import, and the zygote re-executes itself without it.
- a zygote is keyed by that module set, restarted when it died, and replaced when a module
  file it imported from outside the interpreter's stdlib/site-packages (your own code on
  ``PYTHONPATH``) changed since.

A kernel is forked only when a fresh kernel would be the same process: a Python kernelspec
whose command is exactly ``<this interpreter> -m ipykernel_launcher -f {connection_file}``,
without ``env`` or its own provisioner, and a kernel environment equal to the zygote's
(``JPY_*`` and ``PYDEVD_*`` aside). Anything else (R, bash, another venv or interpreter,
a gateway kernel manager, a changed environment) gets an ordinary kernel, silently.
After the fork the kernel takes the worker's stdout/stderr, working directory and
environment, reseeds ``numpy.random`` (``random`` reseeds itself), and sets matplotlib's
inline backend before preloading, as ipykernel would.

Lifetimes follow lifeline.py: the zygote watches a pipe whose only reader is its owner (the
CLI or server process) and exits when the owner is gone; each forked kernel watches a pipe
whose only reader is its point worker, so a killed worker (timeout, cancel) kills its kernel
and nothing else.

The package, one responsibility a module:

- ``preload``: which modules a zygote preloads, whether a kernel can be forked at all, and
  importing the modules cleanly (in the zygote);
- ``pool``: the owner's side: the zygotes of this process, started, reused, restarted;
- ``provisioner``: the worker's side: a kernel manager whose kernel is forked by a zygote;
- ``server``: the zygote process itself: preload, listen on its socket, fork kernels.
"""

from .pool import POOL, Zygote, ZygotePool, worker_env
from .preload import NEVER_PRELOAD, forkable_kernel, imports_of, preload_candidates
from .provisioner import ForkedKernel, fork_kernel, kernel_manager
from .server import main

__all__ = [
    "NEVER_PRELOAD",
    "POOL",
    "ForkedKernel",
    "Zygote",
    "ZygotePool",
    "fork_kernel",
    "forkable_kernel",
    "imports_of",
    "kernel_manager",
    "main",
    "preload_candidates",
    "worker_env",
]
