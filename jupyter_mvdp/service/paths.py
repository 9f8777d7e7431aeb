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

import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import NotANotebook, NotebookNotFound, PathOutsideRoot, PathRefused

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

    def beside(self, notebook_relative: str, path: object, field: str) -> tuple[Path, str]:
        """A notebook named relative to another notebook's folder (the canary's deploy
        notebook), through the same checks."""
        relative = self.relative_path(path, field)
        folder = os.path.dirname(notebook_relative)
        return self.notebook(f"{folder}/{relative}" if folder else relative, field)
