"""Bringing a finished point's output notebook home: into the workspace (through the
contents manager in the server, so remote storage backends work), with its metrics and, for
a failed remote point, the notebook's own error."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..core import filemodes, params
from ..core.metrics import read_metrics_file
from ..core.models import PointStatus, RunSpec
from ..core.notebook_errors import notebook_error
from ..exceptions import MvdpError
from ..targets.base import Target

log = logging.getLogger("jupyter_mvdp")
#: (path relative to the root, local file): server.outputs.contents_saver in the server
SaveOutput = Callable[[str, Path], None]


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


def failure_of(path: Path) -> str | None:
    """Why a remote point's output notebook failed (``cell N: Name: message``)."""
    try:
        return notebook_error(params.read_notebook(path))
    except MvdpError:
        return None


class OutputImporter:
    def __init__(self, root: Path, save_output: SaveOutput | None = None, shared: bool = False):
        self.root = root
        self.save_output = save_output
        self.shared = shared  # else written files are their owner's only (filemodes.py)

    def relative(self, path: str | Path) -> str:
        return Path(path).resolve().relative_to(self.root).as_posix()

    def bring(
        self, target: Target, spec: RunSpec, pid: str, status: PointStatus
    ) -> tuple[str | None, dict, str | None]:
        """Copy a finished point's notebook into the workspace; read its metrics if needed.
        Returns (output, metrics, why the output could not be read back or None)."""
        dest = Path(spec.output_dir) / f"{pid}.ipynb"
        through_contents = self.save_output is not None and not target.capabilities.writes_workspace
        if through_contents:
            staging = Path(tempfile.mkdtemp(prefix="mvdp-output-"))
            fetch_to = staging / dest.name
        else:
            fetch_to = dest
        problem = "its output notebook is missing"
        try:
            if not through_contents:
                filemodes.make_dirs(dest.parent, shared=self.shared)
            got = target.fetch_output(spec, pid, fetch_to)
        except (MvdpError, OSError) as e:
            problem = getattr(e, "message", None) or f"{type(e).__name__}: {e}"
            log.warning("output of %s/%s not fetched: %s", spec.run_id, pid, problem)
            got = None
        if got is None:
            if through_contents:
                shutil.rmtree(staging, ignore_errors=True)
            return None, status.metrics, problem
        metrics, problem = status.metrics, None
        if not metrics:
            try:
                metrics = read_metrics_file(got)
            except Exception as e:  # a half-written or damaged notebook has no metrics
                metrics, problem = {}, f"its output notebook cannot be read: {_first_line(e)}"
        if through_contents:
            try:
                self.save_output(self.relative(dest), got)
            finally:
                shutil.rmtree(got.parent, ignore_errors=True)
            return self.relative(dest), metrics, problem
        with contextlib.suppress(OSError):  # a file another user owns keeps its mode
            filemodes.match_folder(got)
        return self.relative(got), metrics, problem
