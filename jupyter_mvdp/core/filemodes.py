"""Who may read what jupyter-mvdp writes, in one place.

On a shared host the run store, output notebooks and logs hold a user's parameters (some
confidential), so they are created readable by their owner only (files 0600, folders 0700)
unless outputs are configured shared (``c.MvdpApp.shared_outputs``, ``"shared_outputs"`` in
the CLI's config), where the process umask decides as for any file. A file written into a run's
folder takes that folder's privacy (``in_folder``), so writers that only know a path (the
point worker, papermill) follow the choice made when the folder was created.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

PRIVATE_FILE, PRIVATE_DIR = 0o600, 0o700
_SHARED_FILE, _SHARED_DIR = 0o666, 0o777  # less the umask


def make_dirs(path: str | Path, *, shared: bool = False) -> Path:
    """Create ``path`` and its missing parents, each new folder private unless ``shared``;
    folders that exist keep their mode."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            folder.mkdir(_SHARED_DIR if shared else PRIVATE_DIR)
    return path


def open_file(path: str | Path, *, shared: bool = False, truncate: bool = True) -> int:
    """A file descriptor open for writing on ``path``, created private unless ``shared`` (an
    existing file is made private too: never a moment when others may read it)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
    fd = os.open(path, flags, _SHARED_FILE if shared else PRIVATE_FILE)
    if not shared:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def write_file(path: str | Path, data: bytes | str, *, shared: bool = False) -> None:
    """Write ``data`` to ``path`` (created private unless ``shared``)."""
    raw = data.encode() if isinstance(data, str) else data
    with os.fdopen(open_file(path, shared=shared), "wb") as f:
        f.write(raw)


def is_shared(folder: str | Path) -> bool:
    """Whether others may enter ``folder``: files written into it are then shared too."""
    try:
        return bool(os.stat(folder).st_mode & (stat.S_IXGRP | stat.S_IXOTH))
    except OSError:
        return False


def in_folder(path: str | Path) -> Path:
    """Create ``path`` (empty unless it exists) with its folder's privacy, before a writer
    that keeps a file's mode (papermill, a log) writes it; its folder is made first, like its
    parent."""
    path = Path(path)
    make_dirs(path.parent, shared=is_shared(path.parent.parent))
    os.close(open_file(path, shared=is_shared(path.parent), truncate=False))
    return path


def match_folder(path: str | Path) -> None:
    """Give a file already written (by a writer that does not take a mode) its folder's
    privacy."""
    if not is_shared(Path(path).parent):
        os.chmod(path, PRIVATE_FILE)


def disk_of(path: Path) -> str:
    """The mount point holding ``path`` and its free space, as a user looks for it."""
    folder = Path(path).parent.resolve()
    while not folder.exists():
        folder = folder.parent
    mount = folder
    with contextlib.suppress(OSError):
        while mount != mount.parent and os.stat(mount.parent).st_dev == os.stat(mount).st_dev:
            mount = mount.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return f"the disk mounted at {mount}"
    return f"the disk mounted at {mount} ({free // 1024:,} KiB free)"
