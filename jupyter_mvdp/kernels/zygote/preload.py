"""Which modules a zygote preloads (decided once, here: see the package docstring), whether a
notebook's kernel can be forked from a zygote at all, importing those modules cleanly in
the zygote, ahead of time, and renewing in each forked kernel the random state they left."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

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


def forkable_kernel(kernel_name: str | None) -> bool:
    """True when the kernelspec starts exactly what a zygote forks: ipykernel on this
    interpreter, without an env of its own or another provisioner."""
    from jupyter_client.kernelspec import NATIVE_KERNEL_NAME, KernelSpecManager

    name = kernel_name or NATIVE_KERNEL_NAME
    # not the native spec jupyter_client builds from ipykernel (importing it costs the server
    # memory): when no spec is installed under that name, it is this interpreter's ipykernel
    specs = KernelSpecManager(ensure_native_kernel=False)
    try:
        spec = specs.get_kernel_spec(name)
    except Exception:  # unknown kernel: papermill reports it, not us
        return name == NATIVE_KERNEL_NAME and importlib.util.find_spec("ipykernel") is not None
    argv = list(spec.argv)
    return (
        (spec.language or "").lower() == "python"
        and not spec.env
        and not spec.metadata.get("kernel_provisioner")
        and len(argv) == 5
        and argv[1:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
        and (
            argv[0] in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
            or os.path.normpath(argv[0]) == os.path.normpath(sys.executable)
        )
    )


def preload_modules(modules: list[str]) -> tuple[list[str], str | None]:
    """Import each module; returns (clean ones, the first that broke a rule or None)."""
    import importlib
    import importlib.util
    import warnings

    clean = []
    for name in modules:
        out = io.StringIO()
        before = set(threading.enumerate())
        try:
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(out),
                warnings.catch_warnings(record=True) as caught,
            ):
                warnings.simplefilter("always")
                # ``a.b.c`` of ``from a.b import c`` may be a function, not a module
                if "." not in name or importlib.util.find_spec(name) is not None:
                    importlib.import_module(name)
        except BaseException:  # does not import cleanly: the kernel will report it
            if set(threading.enumerate()) - before:
                return clean, name
            continue
        if out.getvalue() or caught or set(threading.enumerate()) - before:
            return clean, name
        clean.append(name)
    return clean, None


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
