"""Files a run ships, by content (snapshots.py): digests remembered while a file looks the
same, and a deploy's reader that refuses bytes other than those the run names."""

from __future__ import annotations

import hashlib
import os

import pytest

from jupyter_mvdp.exceptions import DeployError
from jupyter_mvdp.service.paths import ShippedFile
from jupyter_mvdp.service.snapshots import FileDigests, checked


def test_a_files_digest_is_computed_once_while_it_looks_the_same(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"first")
    digests = FileDigests()
    shipped = ShippedFile("data.csv", path, 5)
    assert digests.manifest([shipped]) == [
        {"path": "data.csv", "sha256": hashlib.sha256(b"first").hexdigest(), "size": 5}
    ]
    st = path.stat()
    path.write_bytes(b"other")  # same size, and the same time: as git, trusted unchanged
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert digests.digest(shipped) == hashlib.sha256(b"first").hexdigest()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # it changed
    assert digests.digest(shipped) == hashlib.sha256(b"other").hexdigest()


def test_a_deploy_reads_only_the_bytes_the_run_names(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(b"submitted" * 1000)
    sha = hashlib.sha256(b"submitted" * 1000).hexdigest()
    with checked(path, sha, "data.csv") as reader:
        assert b"".join(iter(lambda: reader.read(1000), b"")) == b"submitted" * 1000
    path.write_bytes(b"edited" * 1000)
    with checked(path, sha, "data.csv") as reader, pytest.raises(DeployError, match="changed"):
        while reader.read(1000):
            pass
    with (
        pytest.raises(DeployError, match=r"Cannot read gone\.csv"),
        checked(tmp_path / "gone.csv", sha, "gone.csv"),
    ):
        pass
