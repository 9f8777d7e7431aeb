"""The one gate for every path a request or a plan names (notebook, deploy notebook, ...).

A path is taken only relative to the server root, as ``/``-separated segments, with no ``..``,
no NUL or control characters, no over-long segments, no hidden segments (unless the server
allows hidden files, as jupyter_server's ``allow_hidden`` does), and it must still be inside
the root once symlinks are resolved. Every route and every field calls ``PathResolver.notebook``
and then opens the path it returns, so what is checked is what is opened.

Refusals: a malformed path is 400 (``PathRefused``), a symlink out of the root 403
(``PathOutsideRoot``), a hidden or missing file 404 (``NotebookNotFound``), as jupyter_server
answers for hidden files.
"""

from __future__ import annotations

import glob
import os
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import (
    InvalidPlan,
    MvdpError,
    NotANotebook,
    NotebookNotFound,
    PathOutsideRoot,
    PathRefused,
)

MAX_SEGMENT_BYTES = 255  # NAME_MAX of every common file system
MAX_PATH_BYTES = 4096  # PATH_MAX


@dataclass(frozen=True)
class PathResolver:
    root: Path
    allow_hidden: bool = False

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root).resolve())

    def notebook(self, path: object, field: str = "notebook") -> tuple[Path, str]:
        """``(absolute resolved path, normalized path relative to the root)`` of an existing
        ``.ipynb`` file inside the root, or an ``MvdpError`` naming ``field``."""
        relative = self.relative_path(path, field)
        if not relative.endswith(".ipynb"):
            raise NotANotebook(f"{field}: {relative!r} is not a notebook (.ipynb)")
        resolved = self._inside(relative, field)
        if not resolved.is_file():
            raise NotebookNotFound(f"{field}: notebook not found: {relative}")
        return resolved, relative

    def relative_path(self, path: object, field: str) -> str:
        """``path`` checked as text and normalized (no ``.`` or empty segments)."""
        if not isinstance(path, str) or not path.strip():
            raise PathRefused(f"{field}: give a path relative to the server root")
        try:
            size = len(path.encode("utf-8"))
        except UnicodeEncodeError:
            raise PathRefused(f"{field}: the path is not valid Unicode") from None
        if size > MAX_PATH_BYTES:
            raise PathRefused(f"{field}: the path is longer than {MAX_PATH_BYTES} bytes")
        if any(ord(c) < 32 or ord(c) == 127 for c in path):
            raise PathRefused(f"{field}: the path contains a control character")
        if "\\" in path:
            raise PathRefused(f"{field}: use '/' between folders, not '\\'")
        if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
            raise PathRefused(f"{field}: {path!r} must be relative to the server root")
        segments = [s for s in path.split("/") if s not in ("", ".")]
        if not segments:
            raise PathRefused(f"{field}: give a path relative to the server root")
        for segment in segments:
            if segment == "..":
                raise PathRefused(f"{field}: '..' is not allowed in {path!r}")
            if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
                raise PathRefused(f"{field}: a name in the path is over {MAX_SEGMENT_BYTES} bytes")
            if segment.startswith(".") and not self.allow_hidden:
                raise NotebookNotFound(f"{field}: notebook not found: {path}")
        return "/".join(segments)

    def _inside(self, relative: str, field: str) -> Path:
        try:
            resolved = (self.root / relative).resolve()
        except (OSError, RuntimeError):  # a symlink loop, a name the OS refuses
            raise NotebookNotFound(f"{field}: notebook not found: {relative}") from None
        if not resolved.is_relative_to(self.root):
            raise PathOutsideRoot(f"{field}: {relative} leads outside the server root")
        inner = resolved.relative_to(self.root).parts
        if not self.allow_hidden and any(part.startswith(".") for part in inner):
            raise NotebookNotFound(f"{field}: notebook not found: {relative}")
        return resolved

    def kind_of(self, relative: str) -> str | None:
        """``"file"`` or ``"folder"`` for what the gate lets through at ``relative`` (a path
        relative to the root), else None (nothing there, or not for this user to read)."""
        try:
            found = self._inside(self.relative_path(relative, "path"), "path")
        except MvdpError:
            return None
        return "file" if found.is_file() else "folder" if found.is_dir() else None

    def beside(self, notebook_relative: str, path: object, field: str) -> tuple[Path, str]:
        """A notebook named relative to another notebook's folder (the canary's deploy
        notebook), through the same checks."""
        relative = self.relative_path(path, field)
        folder = os.path.dirname(notebook_relative)
        return self.notebook(f"{folder}/{relative}" if folder else relative, field)


# --- the plan's files: what travels with a notebook ---------------------------------------

GLOB_CHARACTERS = frozenset("*?[")
MAX_FILES = 10_000  # files a plan may ship, whatever their size
DEFAULT_FILE_LIMIT = 100 * 2**20  # bytes, per file (c.MvdpApp.file_size_limit)
DEFAULT_FILES_LIMIT = 2 * 2**30  # bytes, all of a plan's files (c.MvdpApp.files_size_limit)


@dataclass(frozen=True)
class ShippedFile:
    """One file a plan ships: its path relative to the notebook's folder (where it lands on
    the target), the file it is on this machine (symlinks resolved, inside the root), its
    size."""

    path: str
    source: Path
    size: int


def size_text(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def ship(
    gate: PathResolver,
    notebook_relative: str,
    patterns: Sequence[str],
    *,
    file_limit: int = DEFAULT_FILE_LIMIT,
    total_limit: int = DEFAULT_FILES_LIMIT,
    field: str = "files",
) -> list[ShippedFile]:
    """The files the plan's ``files`` name next to the notebook ``notebook_relative``: a path
    (a folder: every file below it), or a glob (``datasets/*.csv``, ``**`` for any depth).
    Each goes through ``gate`` as a notebook does (text, ``..``, hidden, symlinks out of the
    root), then the size limits (per file, all together, ``MAX_FILES``). Raises InvalidPlan
    naming every entry in error (``files.<i>``), else the files in path order."""
    folder = posixpath.dirname(notebook_relative)
    found: dict[str, ShippedFile] = {}
    errors: list[dict] = []
    for i, pattern in enumerate(patterns):
        where = f"{field}.{i}"
        try:
            for path in _expand(gate, folder, pattern, where):
                if path == posixpath.basename(notebook_relative):
                    continue  # the notebook itself travels anyway
                shipped = _checked(gate, folder, path, where)
                if shipped is not None:
                    found.setdefault(path, shipped)
        except MvdpError as e:
            errors.append({"field": where, "message": e.message.removeprefix(f"{where}: ")})
    for path, shipped in sorted(found.items()):
        if shipped.size > file_limit:
            index = _entry_of(gate, folder, patterns, path)
            errors.append(
                {
                    "field": f"{field}.{index}" if index is not None else field,
                    "message": f"{path} is {size_text(shipped.size)}, over the limit of "
                    f"{size_text(file_limit)} per file",
                }
            )
    total = sum(f.size for f in found.values())
    if len(found) > MAX_FILES:
        errors.append(
            {"field": field, "message": f"{len(found)} files, over the limit of {MAX_FILES}"}
        )
    elif total > total_limit:
        errors.append(
            {
                "field": field,
                "message": f"the files add up to {size_text(total)}, over the limit of "
                f"{size_text(total_limit)}",
            }
        )
    if errors:
        first = errors[0]
        raise InvalidPlan(f"{first['field']}: {first['message']}", errors=errors)
    return [found[p] for p in sorted(found)]


def _expand(gate: PathResolver, folder: str, pattern: object, where: str) -> list[str]:
    """Paths relative to the notebook's folder that ``pattern`` names (files, and folders'
    files), not yet checked."""
    try:
        relative = gate.relative_path(pattern, where)
    except NotebookNotFound:  # a hidden segment
        raise PathRefused(f"{where}: {pattern!r} is hidden; hidden files are not shipped") from None
    base = gate.root / folder if folder else gate.root
    if GLOB_CHARACTERS & set(relative):
        names = glob.glob(relative, root_dir=base, recursive=True, include_hidden=gate.allow_hidden)
        if not names:
            raise PathRefused(f"{where}: {relative!r} matches no file next to the notebook")
    else:
        if not os.path.lexists(base / relative):
            raise NotebookNotFound(f"{where}: {relative} is not next to the notebook")
        names = [relative]
    paths: list[str] = []
    for name in sorted(names):
        name = Path(name).as_posix()
        if (base / name).is_dir():
            paths.extend(_walk(gate, base, name))
        else:
            paths.append(name)
    if not paths:
        raise PathRefused(f"{where}: {relative!r} holds no file to ship")
    return paths


def _walk(gate: PathResolver, base: Path, name: str) -> list[str]:
    """The files below folder ``name`` (hidden ones only when the gate allows them)."""
    out = []
    for top, dirs, files in os.walk(base / name):
        if not gate.allow_hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files = [f for f in files if not f.startswith(".")]
        dirs.sort()
        rel = Path(top).relative_to(base).as_posix()
        out.extend(f"{rel}/{f}" for f in sorted(files))
    return out


def _checked(gate: PathResolver, folder: str, path: str, where: str) -> ShippedFile | None:
    """``path`` through the gate: text, inside the root after symlinks, not hidden; a
    regular file (None for anything else: a socket, a broken link's folder)."""
    root_relative = f"{folder}/{path}" if folder else path
    try:
        gate.relative_path(root_relative, where)
        resolved = gate._inside(root_relative, where)
    except NotebookNotFound:
        raise PathRefused(f"{where}: {path} is hidden; hidden files are not shipped") from None
    if not resolved.is_file():
        if not resolved.exists():
            raise NotebookNotFound(f"{where}: {path} is a broken link")
        return None
    return ShippedFile(path, resolved, resolved.stat().st_size)


def _entry_of(gate: PathResolver, folder: str, patterns: Sequence[str], path: str) -> int | None:
    """The index of the first entry of ``files`` that names ``path``."""
    for i, pattern in enumerate(patterns):
        try:
            if path in _expand(gate, folder, pattern, f"files.{i}"):
                return i
        except MvdpError:
            continue
    return None
