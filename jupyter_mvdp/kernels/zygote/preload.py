"""Which modules a zygote preloads (decided once, here: see the package docstring), whether a
notebook's kernel can be forked from a zygote at all, importing those modules cleanly in
the zygote, ahead of time, and renewing in each forked kernel the random state they left."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import shlex
import shutil
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

NEVER_PRELOAD = frozenset(
    {
        # fork-unsafe or device-bound runtimes: their state must be created in the kernel
        "torch",
        "tensorflow",
        "jax",
        "jaxlib",
        "cupy",
        "numba",
        "ray",
        "pyspark",
        "dask",
        "distributed",
        "multiprocessing",
        "concurrent",
        "asyncio",
        # kernel-facing: they look for a running kernel when imported
        "ipywidgets",
        "ipykernel",
        "IPython",
        "__future__",
    }
)


def imports_of(notebook) -> list[str]:
    """Modules imported by the notebook's code cells, in order of appearance: ``import a.b``
    gives ``a.b``, ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (imported only if it is
    a module). IPython lines (``%magic``, ``!shell``) are dropped before parsing: the rule
    provenance reports the notebook's packages by (runtime.imported_modules)."""
    from ...core.runtime import imported_modules

    return imported_modules(c.source for c in notebook.cells if c.cell_type == "code")


def preload_candidates(notebook, cwd: str | Path) -> list[str]:
    """The notebook's imports the zygote may try (see the package docstring)."""
    folder = Path(cwd)
    return [
        name
        for name in imports_of(notebook)
        if (top := name.split(".")[0]) not in NEVER_PRELOAD
        and top not in sys.builtin_module_names
        and not (folder / f"{top}.py").exists()
        and not (folder / top).is_dir()
    ]


# interpreter options a kernelspec may give its Python: the zygote starts with the same ones.
# Single letters without a value (``-E``, ``-s``, ``-u``, clustered as ``-Esu``) and those
# with one (``-X frozen_modules=off``, ``-Wignore``); ``-c``, ``-i``, ``-x`` and a script run
# something other than ipykernel.
_FLAGS = frozenset("bBdEIOPqRsSuv")
_VALUED = frozenset("WX")
# how ``python -m`` starts ipykernel
KERNEL_MODULES = ("ipykernel_launcher", "ipykernel")


class KernelCommand(NamedTuple):
    """A Python kernelspec's argv, read as the interpreter reads it."""

    interpreter: str
    options: tuple[str, ...]  # e.g. ("-X", "frozen_modules=off", "-E"): one token each
    module: str
    args: tuple[str, ...]  # the kernel's own (``-f {connection_file}``, traitlets options)


def kernel_command(argv: list[str]) -> KernelCommand:
    """``argv`` as Python parses it, when it runs ipykernel with ``-m``; else ValueError
    saying why not."""
    if not argv:
        raise ValueError("an empty command")
    options: list[str] = []
    i = 1
    while i < len(argv):
        arg, i = argv[i], i + 1
        if arg == "--check-hash-based-pycs" and i < len(argv):
            options += [arg, argv[i]]
            i += 1
            continue
        if not arg.startswith("-") or arg.startswith("--") or arg == "-":
            break
        j = 1
        while j < len(arg):
            flag, j = arg[j], j + 1
            if flag in _FLAGS:
                options.append(f"-{flag}")
                continue
            if flag not in _VALUED and flag != "m":
                raise ValueError(f"the interpreter option -{flag}")
            value = arg[j:]
            if not value:
                if i >= len(argv):
                    raise ValueError(f"-{flag} without its value")
                value, i = argv[i], i + 1
            if flag == "m":
                if value not in KERNEL_MODULES:
                    raise ValueError(f"-m {value}, not ipykernel")
                return KernelCommand(argv[0], tuple(options), value, tuple(argv[i:]))
            options += [f"-{flag}", value]
            break
    raise ValueError("no -m ipykernel_launcher")


class Warmth(NamedTuple):
    """Whether a kernelspec's kernels can be forked: ``interpreter`` is the command (this
    Python, the spec's options) a zygote for it starts with; else ``reason`` says why not."""

    interpreter: tuple[str, ...] | None
    reason: str | None = None

    @property
    def quiet(self) -> bool:
        """Warm kernels were never in question (not a Python kernel, or no such kernelspec:
        papermill says so): nothing for a run to warn about."""
        return isinstance(self.reason, _NeverWarm)


class _NeverWarm(str):
    """A ``Warmth.reason`` that is no fallback (a plain string to whoever prints it)."""


def warm_kernel(kernel_name: str | None, env: dict[str, str] | None = None) -> Warmth:
    """Whether the kernelspec ``kernel_name`` starts what a zygote forks: ipykernel on this
    Python (the same interpreter file and environment, whatever path or options the spec
    names), with no environment of its own that ``env`` (the kernels') lacks and no other
    provisioner. The reason, in a few words, when it does not."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager

    name = kernel_name or NATIVE_KERNEL_NAME
    env = os.environ if env is None else env
    # not the native spec jupyter_client builds from ipykernel (importing it costs the server
    # memory): when no spec is installed under that name, it is this interpreter's ipykernel
    specs = KernelSpecManager(ensure_native_kernel=False)
    try:
        spec = specs.get_kernel_spec(name)
    except Exception:  # unknown kernel: papermill reports it, not us
        if name == NATIVE_KERNEL_NAME and importlib.util.find_spec("ipykernel") is not None:
            return Warmth((sys.executable,))
        return Warmth(None, _NeverWarm(f"no kernelspec named {name!r}"))
    if (spec.language or "").lower() != "python":
        return Warmth(None, _NeverWarm(f"the kernel {name!r} is not Python"))
    if spec.metadata.get("kernel_provisioner"):
        return Warmth(None, f"the kernel {name!r} has a provisioner of its own")
    own = sorted(k for k, v in (spec.env or {}).items() if env.get(k) != v)
    if own:
        return Warmth(None, f"the kernel {name!r} sets {', '.join(own[:5])}")
    try:
        command = kernel_command(list(spec.argv))
    except ValueError as e:
        return Warmth(None, f"the kernel {name!r} runs {shlex.join(spec.argv[:4])}: {e}")
    python = interpreter_path(command.interpreter, env)
    why = other_python(python)
    if why:
        return Warmth(None, f"the kernel {name!r} runs {why}")
    return Warmth((python, *command.options))


def forkable_kernel(kernel_name: str | None) -> bool:
    """True when the kernelspec starts what a zygote forks (``warm_kernel``)."""
    return warm_kernel(kernel_name).reason is None


def interpreter_path(name: str, env: dict[str, str]) -> str | None:
    """The interpreter a kernel command's first word starts, as jupyter_client and ``Popen``
    find it: ``python``, ``python3``, ``python3.X`` are this one."""
    major, minor = sys.version_info[:2]
    if name in ("python", f"python{major}", f"python{major}.{minor}"):
        return sys.executable
    if os.sep in name:
        return os.path.abspath(name)
    return shutil.which(name, path=env.get("PATH", os.defpath))


def other_python(path: str | None) -> str | None:
    """None when ``path`` starts this Python in this environment (a symlink, ``bin/python``
    for ``bin/python3``...): the same interpreter file and the same ``sys.prefix`` (a venv
    is decided by where its ``python`` lies, so it is asked); else what it is instead."""
    if not path or not os.access(path, os.X_OK):
        return f"{path or 'an interpreter'} that is not there"
    if os.path.realpath(path) != os.path.realpath(sys.executable):
        return f"another interpreter ({path})"
    prefix = _prefix_of(path, os.stat(path).st_mtime_ns)
    if prefix is None or os.path.realpath(prefix) != os.path.realpath(sys.prefix):
        return f"another environment ({path}: {prefix or 'no answer'})"
    return None


@functools.lru_cache(maxsize=32)
def _prefix_of(path: str, _mtime: int) -> str | None:
    try:
        done = subprocess.run(
            [path, "-I", "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def preload_modules(modules: list[str]) -> tuple[list[str], str | None]:
    """Import each module as a kernel's cell would (``as_in_a_kernel``); returns (clean
    ones, the first that broke a rule or None)."""
    import importlib
    import importlib.util
    import warnings

    clean = []
    for name in modules:
        out = io.StringIO()
        before = set(threading.enumerate())
        consulted: list[str] = []
        try:
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
                warnings.catch_warnings(record=True) as caught,
                as_in_a_kernel(consulted),
            ):
                warnings.simplefilter("always")
                # ``a.b.c`` of ``from a.b import c`` may be a function, not a module
                if "." not in name or importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
        except BaseException:  # does not import cleanly: the kernel will report it
            failed = True
        else:
            failed = False
        # what it left imported (``find_spec`` of ``a.b.c`` imports ``a.b``) counts too
        if out.getvalue() or caught or consulted or set(threading.enumerate()) - before:
            return clean, name
        if not failed:
            clean.append(name)
    return clean, None


# a kernel's shell as a module sees it while a cell imports it: ``get_ipython()``, IPython's
# builtins, ZMQInteractiveShell's environment variables
_SHELL_ENV = ("TERM", "CLICOLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER", "GIT_PAGER")
_SHELL_BUILTINS = ("get_ipython", "__IPYTHON__", "display")


@contextlib.contextmanager
def as_in_a_kernel(consulted: list[str]):
    """While importing: what a module finds of IPython is what a kernel's cell gives it,
    so warm equals fresh (pandas, for one, sets ``display.max_columns`` from it). A stand-in
    shell answers ``get_ipython()`` (builtin or IPython's) with the kernel shell's class; a
    module that asks it more than whether it has a ``kernel`` (its display hooks, config,
    events, comms: none of which exist before the kernel starts), or keeps it, is noted in
    ``consulted``: it is left to the kernel to import."""
    import builtins
    import gc

    from ipykernel.zmqshell import ZMQInteractiveShell

    class Kernel:  # the shell's kernel: not started yet
        def __getattr__(self, name):
            consulted.append(f"kernel.{name}")
            raise AttributeError(name)

    watching = False

    class Shell(ZMQInteractiveShell):
        def __getattribute__(self, name):
            if watching and not name.startswith("_") and name != "kernel":
                consulted.append(name)
            return super().__getattribute__(name)

    # what ``type(get_ipython())`` says in a kernel
    Shell.__name__ = Shell.__qualname__ = ZMQInteractiveShell.__name__
    Shell.__module__ = ZMQInteractiveShell.__module__
    shell = Shell.__new__(Shell)
    shell.kernel = Kernel()
    classes = list(Shell._walk_mro())
    missing = object()
    saved_instances = [c.__dict__.get("_instance", missing) for c in classes]
    saved_builtins = {k: builtins.__dict__.get(k, missing) for k in _SHELL_BUILTINS}
    saved_env = {k: os.environ.get(k) for k in _SHELL_ENV}
    from IPython.core.display_functions import display

    for c in classes:
        c._instance = shell
    held = [shell]
    builtins.get_ipython, builtins.__IPYTHON__, builtins.display = lambda: held[0], True, display
    ZMQInteractiveShell.init_environment(shell)
    alive = weakref.ref(shell)
    del shell
    watching = True
    try:
        yield
    finally:
        watching = False
        held.clear()
        for c, saved in zip(classes, saved_instances, strict=True):
            if saved is missing:
                with contextlib.suppress(AttributeError):
                    delattr(c, "_instance")
            else:
                c._instance = saved
        for key, value in saved_builtins.items():
            if value is missing:
                builtins.__dict__.pop(key, None)
            else:
                builtins.__dict__[key] = value
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if alive() is not None:
            gc.collect()  # a traceback's cycle, or a module that kept it
            if alive() is not None:
                consulted.append("kept")


# --- random state: what a fork must renew ---------------------------------------------------

_FROM_ENTROPY: weakref.WeakSet = weakref.WeakSet()


def track_random_seeds() -> Callable[[], None]:
    """Until the returned function is called, note every ``random.Random`` seeded from the
    OS's entropy (``Random()``, ``seed()``) while modules import: a fresh kernel would draw
    a new seed for it, so each forked kernel does (``renew_random_state``). One seeded with a
    value (``Random(42)``) is left as the import left it: as a fresh kernel has it."""
    import random

    original = random.Random.seed

    def seed(self, a=None, version=2):
        original(self, a, version)
        with contextlib.suppress(TypeError):  # a subclass without weak references
            if a is None:
                _FROM_ENTROPY.add(self)
            else:
                _FROM_ENTROPY.discard(self)

    random.Random.seed = seed

    def stop() -> None:
        random.Random.seed = original  # the kernel sees the class as a fresh one does

    return stop


def renew_random_state() -> None:
    """In a forked kernel: new seeds where a fresh kernel would have drawn them at import
    (``random``'s own global instance reseeds itself after a fork)."""
    for rng in list(_FROM_ENTROPY):
        with contextlib.suppress(Exception):
            rng.seed()
    if "numpy.random" in sys.modules:  # its global state was seeded in the zygote
        sys.modules["numpy.random"].seed()
