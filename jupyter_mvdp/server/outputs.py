"""Bring output notebooks into the workspace through the contents manager.

A remote target (Airflow, Astro) hands an executed notebook back as a file fetched over fsspec;
saving it through jupyter_server's contents manager (not the file system) keeps non-file
contents managers, hidden-file rules and the root boundary in charge. The local runner already
writes into the workspace, so it skips this. On a file system, what is saved gets the modes
of core/filemodes.py (its owner's only unless ``shared``).
"""

from __future__ import annotations

import asyncio
import os
import posixpath
from collections.abc import Callable
from pathlib import Path

from ..core import filemodes
from ..core.params import read_notebook

SaveOutput = Callable[[str, Path], None]


def contents_saver(
    contents_manager, loop: asyncio.AbstractEventLoop, timeout: float = 60, shared: bool = False
) -> SaveOutput:
    """A ``save(relative_path, fetched_file)`` callable usable from worker threads."""
    os_path = getattr(contents_manager, "_get_os_path", None)  # file contents managers

    def private(path: str, mode: int) -> None:
        if os_path is not None and not shared:
            os.chmod(os_path(path), mode)

    def run(value):
        if asyncio.iscoroutine(value):
            return asyncio.run_coroutine_threadsafe(value, loop).result(timeout)
        return value

    def save(path: str, fetched: Path) -> None:
        folder = posixpath.dirname(path)
        parts = folder.split("/") if folder else []
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if not run(contents_manager.dir_exists(sub)):
                run(contents_manager.save({"type": "directory"}, sub))
                private(sub, filemodes.PRIVATE_DIR)
        model = {
            "type": "notebook",
            "format": "json",
            "content": read_notebook(fetched),
        }
        run(contents_manager.save(model, path))
        private(path, filemodes.PRIVATE_FILE)

    return save
