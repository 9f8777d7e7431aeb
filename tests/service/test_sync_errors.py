"""Why a remote point failed: its output notebook's own error, once the notebook is home,
whatever the target says at later polls (Airflow's word comes from the task's log, which may
still be written when the point is first seen failed: it changes from poll to poll)."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from jupyter_mvdp.core.models import PointStatus, Snapshot
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets.base import Capabilities, Target
from tests.targets.test_local import write_notebook


class LogReadingTarget(Target):
    """Its point fails; its word on why improves from poll to poll, as a log being written."""

    kind = "log-reading-standin"
    capabilities = Capabilities()  # remote: the output notebook is fetched home

    def __init__(self, words: list[tuple[str, str | None]]):
        super().__init__("remote")
        self.words = list(words)  # (point state, its error) one a poll; the run ends after

    def deploy(self, spec, progress=None):
        pass

    def trigger(self, spec):
        spec.extra["dag_run_id"] = spec.run_id

    def poll(self, spec):
        state, error = self.words.pop(0) if self.words else ("failed", "the log's last word")
        points = {p.id: PointStatus(state=state, error=error) for p in spec.points}
        return Snapshot(state="failed" if not self.words else "running", points=points)

    def fetch_output(self, spec, point_id, dest):
        cell = new_code_cell("raise ValueError('boom')", execution_count=4)
        cell.outputs = [new_output("error", ename="ValueError", evalue="boom", traceback=[])]
        nbformat.write(new_notebook(cells=[cell]), dest)
        return dest

    def cancel(self, spec, reason=None):
        pass


def test_the_output_notebooks_error_outlives_the_targets_later_word(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    words = [
        ("running", None),
        ("failed", "Airflow task run_point[0] failed; its log says no more"),
        ("failed", "ValueError: boom (in the notebook)"),
    ]
    target = LogReadingTarget(words)
    manager = RunManager(RunStore(tmp_path / "runs.sqlite"), {"remote": target}, root_dir=tmp_path)
    try:
        plan = {"grid": {"x": [1]}, "strategy": {"kind": "grid"}}
        run_id = manager.submit("tiny.ipynb", plan, "remote", background=False)
        errors = []
        for _ in range(4):
            manager.sync(run_id)
            errors.append(manager.document(run_id)["points"][0]["error"])
    finally:
        manager.close()
    assert errors == [
        None,
        "In [4]: ValueError: boom",
        "In [4]: ValueError: boom",
        "In [4]: ValueError: boom",
    ]
