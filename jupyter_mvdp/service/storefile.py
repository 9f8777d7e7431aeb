"""The run store's file: created private, checked when opened, never silently replaced.

- A new store (file, WAL and SHM files, folder) is readable by its owner only (filemodes.py;
  SQLite gives the WAL and SHM files the database file's mode).
- A store that is not a readable SQLite database is set aside as
  ``runs.sqlite.corrupt-<time>`` and a new one started, with a notice that says so.
- A store deleted while no process had it open is noticed through a marker file next to it
  (``runs.sqlite.created``); one deleted under a live process is written back from the open
  database.
- SQLite's errors become errors a user can act on: a full disk names the disk and the path.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path

from ..core import filemodes
from ..core.filemodes import disk_of
from ..exceptions import StoreFull, StoreUnavailable

_FULL, _CORRUPT, _NOTADB, _IOERR = 13, 11, 26, 10  # SQLite's primary result codes
_BY_MESSAGE = {
    "database or disk is full": _FULL,
    "database disk image is malformed": _CORRUPT,
    "file is not a database": _NOTADB,
    "disk i/o error": _IOERR,
}


def _code(error: sqlite3.Error) -> int | None:
    code = getattr(error, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF
    return _BY_MESSAGE.get(str(error).lower())


def is_damaged(error: BaseException) -> bool:
    """The file is not a SQLite database, or a damaged one."""
    return isinstance(error, sqlite3.DatabaseError) and _code(error) in (_CORRUPT, _NOTADB)


def user_error(path: Path, error: sqlite3.Error) -> Exception:
    """The error a user can act on for a failed statement, or ``error`` itself."""
    code = _code(error)
    if code == _FULL:
        return StoreFull(
            f"The run store {path} cannot grow: {disk_of(path)} is full; free space there "
            "and try again"
        )
    if code == _IOERR:
        return StoreUnavailable(
            f"Cannot write the run store {path}: disk I/O error ({disk_of(path)}; is it full "
            "or over quota?)"
        )
    if code in (_CORRUPT, _NOTADB):
        return StoreUnavailable(
            f"The run store {path} is damaged ({error}); restart to set it aside"
        )
    return error


@contextlib.contextmanager
def opening(path: Path):
    """While opening the store: any SQLite error becomes one a user can act on (a 503, one
    CLI line) naming the file, never a traceback or an extension that fails to load."""
    try:
        yield
    except sqlite3.Error as e:
        error = user_error(path, e)
        if error is e:
            error = StoreUnavailable(f"Cannot open the run store {path}: {e}")
        raise error from None


def marker(path: Path) -> Path:
    return path.with_name(path.name + ".created")


def set_aside(path: Path, why: str) -> Path:
    """Rename the store (and its WAL and SHM files) out of the way; never delete it."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.{why}-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.{why}-{stamp}-{n}")
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    os.replace(path, aside)
    return aside


def check(path: Path) -> str | None:
    """Why the store at ``path`` cannot be used (damaged), or None when it reads."""
    try:
        db = sqlite3.connect(path, timeout=30)
    except sqlite3.Error as e:
        return str(e) if is_damaged(e) else None
    try:
        found = db.execute("PRAGMA quick_check").fetchone()[0]
        return None if found == "ok" else f"quick_check: {found}"
    except sqlite3.Error as e:
        return str(e) if is_damaged(e) else None
    finally:
        db.close()


def prepare(path: Path) -> list[str]:
    """Make ``path`` ready to open: its folder made private if new, a damaged file set aside,
    a new file created private. Returns what a user must be told (the caller says it: the
    server's log, the CLI's stderr)."""
    notices = []
    try:
        filemodes.make_dirs(path.parent)
        existed = path.exists()
        damaged = check(path) if existed else None
        if damaged:
            aside = set_aside(path, "corrupt")
            notices.append(
                f"The run store {path} was damaged ({damaged}): it was set aside as "
                f"{aside.name} and a new, empty store started"
            )
        elif not existed and marker(path).exists():
            since = time.strftime("%Y-%m-%d %H:%M", time.localtime(marker(path).stat().st_mtime))
            notices.append(
                f"The run store {path} (in use since {since}) was missing: the runs it held "
                "are gone; a new, empty store started"
            )
        if damaged or not existed:
            os.close(filemodes.open_file(path, truncate=False))
            filemodes.write_file(marker(path), f"{time.time()}\n")
    except OSError as e:
        raise StoreUnavailable(f"Cannot open the run store {path}: {e.strerror or e}") from None
    return notices


def identity(path: Path) -> tuple[int, int] | None:
    """The file now at ``path`` (device, inode), or None when there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def write_back(db: sqlite3.Connection, path: Path) -> bool:
    """Copy the open database ``db`` to ``path`` (private), unless another process did it
    first (then False)."""
    tmp = path.with_name(f".{path.name}.restore-{os.getpid()}")
    os.close(filemodes.open_file(tmp))
    try:
        copy = sqlite3.connect(tmp)
        with copy:
            db.backup(copy)
        copy.close()
        try:
            os.link(tmp, path)  # fails when another process wrote it back first
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


class UnavailableStore:
    """Stands in for a store that cannot be opened: every use raises why, so each route
    that needs runs answers 503 naming the problem, and the others still work."""

    def __init__(self, error: StoreUnavailable, path: str | Path):
        self.error, self.path, self.problems = error, Path(path), []

    def __getattr__(self, name: str):
        def unavailable(*args, **kwargs):
            raise self.error

        return unavailable

    def close(self) -> None:
        pass
