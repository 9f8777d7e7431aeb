"""outputs.py: output notebooks saved through a real contents manager (as remote targets'
outputs are) are their owner's only on a shared host, unless outputs are shared."""

from __future__ import annotations

import asyncio
import os
import stat

import nbformat
import pytest
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from jupyter_mvdp.server.outputs import contents_saver


@pytest.mark.parametrize("shared", [False, True], ids=["private", "shared_outputs"])
async def test_saved_outputs_and_their_new_folders_follow_the_setting(tmp_path, shared):
    root, fetched = tmp_path / "root", tmp_path / "fetched.ipynb"
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), fetched)
    manager = AsyncLargeFileManager(root_dir=str(root))
    save = contents_saver(manager, asyncio.get_running_loop(), shared=shared)
    await asyncio.to_thread(save, "mvdp-runs/pipe/run1/p-1.ipynb", fetched)
    umask = os.umask(0)
    os.umask(umask)
    file_mode, dir_mode = (0o666 & ~umask, 0o777 & ~umask) if shared else (0o600, 0o700)
    output = root / "mvdp-runs" / "pipe" / "run1" / "p-1.ipynb"
    assert stat.S_IMODE(output.stat().st_mode) == file_mode
    for folder in (output.parent, output.parent.parent, root / "mvdp-runs"):
        assert stat.S_IMODE(folder.stat().st_mode) == dir_mode, folder
