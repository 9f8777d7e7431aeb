"""Warm kernels: pay a notebook's imports once per grid, not once per point.

A *zygote* is a Python process that has imported ipykernel and the modules the notebook
imports, then waits. For every point, the point's kernel manager asks it (over a connection
only that point's worker holds: server.py) to ``fork`` a fresh kernel: a new process with a clean namespace whose ``import pandas`` is
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
- a zygote is keyed by that module set and serves the runs that start while it lives: it is
  restarted when it died, replaced when a module file it imported from outside the
  interpreter's stdlib/site-packages (your own code on ``PYTHONPATH``) changed since, and
  stopped once its last run ended, so the next run gets a new one.

A kernel is forked only when a fresh kernel would be the same process (``warm_kernel``): a
Python kernelspec that runs this interpreter's ipykernel (``-m ipykernel_launcher`` or ``-m
ipykernel``, its arguments in any order), whatever path names the interpreter (``python``,
``bin/python3``, a symlink: the same interpreter file and the same ``sys.prefix``) and
whatever interpreter options it gives (``-Xfrozen_modules=off`` as ``ipykernel install``
writes, ``-E``, ``-s``, ``-u``...: the zygote starts with the same ones), without an ``env``
that changes the kernels' environment or its own provisioner, and a kernel environment equal
to the zygote's (``JPY_*`` and ``PYDEVD_*`` aside). Anything else (R, bash, another venv or
interpreter, a wrapper script, a changed environment) gets an ordinary kernel, and says why:
the run's warnings (``ZygotePool.warm``) and the point's log. A gateway kernel manager or
``warm_kernels: false`` asks for ordinary kernels: nothing to say.

Warm equals fresh: each module is imported as a kernel's cell imports it
(``preload.as_in_a_kernel``): ``get_ipython()`` answers with the kernel shell's class,
IPython's builtins and the shell's environment variables are there, so pandas chooses the
notebook's ``display.max_columns`` (20), not a terminal's. A module that asks the shell more
than that (its config, display hooks, events, kernel: tqdm.auto, ipywidgets) or keeps it is
left to the kernel to import, as one that prints or warns is.
After the fork the kernel takes the worker's stdout/stderr, working directory and
environment, and matplotlib's inline backend is set before preloading, as ipykernel would.
What a fresh kernel draws when it starts is drawn again: the random generators that modules
seeded from the OS's entropy at import (``random.Random`` instances, numpy's global state;
``random`` reseeds its own), and ``JPY_PARENT_PID`` is the kernel's parent. The one thing a
fork cannot renew is Python's string hash seed (``_Py_HashSecret``: set when the interpreter
starts and already baked into every string and dict of the zygote): a run's points share
their zygote's, each run has its own (a new zygote), and ``PYTHONHASHSEED`` in the kernels'
environment is honoured as a fresh kernel honours it.

Lifetimes follow lifeline.py: the zygote exits when its owner (the CLI or server process) is
gone (the control socket closes); each kernel is forked by a *point process*, the point's
subreaper, which exits with the kernel or when the point's worker is gone (a pipe whose only
reader is that worker), killing whatever the notebook started: a killed worker (timeout,
cancel) ends its kernel and its processes, nothing else.

The package, one responsibility a module:

- ``preload``: which modules a zygote preloads, whether a kernel can be forked at all, and
  importing the modules cleanly (in the zygote);
- ``pool``: the owner's side: the zygotes of this process, started, shared, restarted, stopped;
- ``provisioner``: the worker's side: a kernel manager whose kernel is forked by a zygote;
- ``server``: the zygote process itself: preload, serve its owner's connections, fork kernels.
"""

from .pool import POOL, Zygote, ZygotePool, worker_env
from .preload import (
    NEVER_PRELOAD,
    Warmth,
    forkable_kernel,
    imports_of,
    kernel_command,
    preload_candidates,
    warm_kernel,
)
from .provisioner import ForkedKernel, fork_kernel, kernel_manager
from .server import main

__all__ = [
    "NEVER_PRELOAD",
    "POOL",
    "ForkedKernel",
    "Warmth",
    "Zygote",
    "ZygotePool",
    "fork_kernel",
    "forkable_kernel",
    "imports_of",
    "kernel_command",
    "kernel_manager",
    "main",
    "preload_candidates",
    "warm_kernel",
    "worker_env",
]
