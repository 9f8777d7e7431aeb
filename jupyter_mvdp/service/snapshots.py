"""The files a run ships, by content: their digests at submit, and their bytes at deploy
checked against those digests.

A plan's ``files`` (datasets...) can be large and rarely change, so a digest is remembered
per file as long as the file looks the same (device, inode, size, modification time: what
git's index trusts), and a re-run of the same plan hashes nothing again. A deploy then ships
a file only if its digest is not at the target yet, and only the bytes that digest names.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from ..exceptions import DeployError, InvalidPlan
from .paths import ShippedFile

CHUNK = 1 << 20


class FileDigests:
    """sha256 of files, remembered while a file's stat says it did not change."""

    def __init__(self, limit: int = 100_000):
        self._known: dict[tuple, str] = {}
        self._lock = threading.Lock()
        self.limit = limit

    def manifest(self, files: list[ShippedFile]) -> list[dict]:
        """``[{"path", "sha256", "size"}]`` of ``files`` (RunSpec.files)."""
        return [{"path": f.path, "sha256": self.digest(f), "size": f.size} for f in files]

    def digest(self, file: ShippedFile) -> str:
        try:
            st = os.stat(file.source)
        except OSError as e:
            raise InvalidPlan(
                f"files: cannot read {file.path}: {e.strerror}",
                errors=[{"field": "files", "message": f"cannot read {file.path}: {e.strerror}"}],
            ) from None
        key = (str(file.source), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if key in self._known:
                return self._known[key]
        digest = hashlib.sha256()
        with open(file.source, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
        with self._lock:
            if len(self._known) >= self.limit:
                self._known.clear()
            self._known[key] = digest.hexdigest()
        return self._known[key]


@contextmanager
def checked(source: Path, sha256: str, name: str) -> Iterator[BinaryIO]:
    """``source`` opened for reading, whose bytes must be those ``sha256`` names: reading
    its end raises DeployError if they are not (the file changed since the run was
    submitted), before the reader says the file is over, so a deploy never ships other
    bytes than the run names."""
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as e:
        raise DeployError(f"Cannot read {name} to ship it: {e.strerror}") from None
    try:
        yield _Checked(f, sha256, name)
    finally:
        f.close()


class _Checked:
    """A binary reader that hashes what is read through it and checks it at the end."""

    def __init__(self, f: BinaryIO, sha256: str, name: str):
        self._f, self._sha256, self._name = f, sha256, name
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._digest.update(data)
        if (not data or size < 0) and self._digest.hexdigest() != self._sha256:
            raise DeployError(
                f"{self._name} changed after the run was submitted (it is not the file"
                " the run names); productionize again"
            )
        return data
