"""An A/B test on a real Airflow 3: variants x replicates as one mapped task, ``decide``
pushing the verdict and branching (B promoted: the champion, the deploy notebook with B's
parameters), the same verdict as the local runner's on the same plan. Small: 6 replicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.test_airflow import task_states
from tests.targets.test_local import write_notebook

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "ab" / "effect.ipynb"


@pytest.fixture
def workspace(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path / "effect.ipynb")
    write_notebook(
        tmp_path / "deploy.ipynb",
        params='effect = 0.0\nlabel = ""',
        body="from jupyter_mvdp import record\nrecord('deployed_effect', effect)",
    )
    return tmp_path


def run(manager, plan: dict, target: str) -> dict:
    run_id = manager.submit("effect.ipynb", plan, target, background=False)
    return manager.wait(run_id, interval=0.5)


def test_an_ab_test_on_airflow_decides_and_promotes_as_the_local_runner(manager, airflow):
    strategy = {
        "kind": "ab",
        "metric": "score",
        "a": {"effect": 0.0, "label": "a"},
        "b": {"effect": 1.0, "label": "b"},
        "replicate": "seed",
        "replicates": 6,
        "promote": True,
        "deploy_notebook": "deploy.ipynb",
    }
    plan = {"grid": {"noise": 0.2}, "strategy": strategy, "parallelism": 4, "timeout": 300}
    doc = run(manager, plan, "airflow")
    verdict = doc["ab"]["verdict"]
    assert doc["state"] == "success", doc["message"]
    assert verdict["verdict"] == "B better" and verdict["pairs"] == 6, verdict
    assert doc["outcome"] == "deploy"
    states = task_states(airflow, doc)
    assert sorted(i for (t, i), s in states.items() if t == "run_point" and s == "success") == list(
        range(12)
    )
    assert states[("decide", -1)] == "success"
    assert states[("deploy_new_model", -1)] == "success"
    assert states[("keep_variant_a", -1)] == "skipped"
    assert manager.store.champion(doc["pipeline"])["value"] == pytest.approx(verdict["mean_b"])

    local = run(manager, plan, "local")
    assert local["ab"]["verdict"] == verdict  # the same points, the same rule
    assert local["reason"].split(";")[0] == doc["reason"].split(";")[0]
