"""An A/B test end to end on the local runner, real kernels: a synthetic notebook whose score
is a part its seed shares + the variant's true effect + its own noise
(tests/notebooks/ab/effect.ipynb). B better by a known effect is found and promoted (the
champion, the deploy notebook with B's parameters), a failed side's pair is left out and
counted; then A = the champion against an equal B is no significant difference."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from jupyter_mvdp.cli.printing import print_run
from tests.targets.test_local import local_manager, run, write_notebook

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "ab" / "effect.ipynb"


def test_a_known_effect_is_found_promoted_then_the_champion_is_a(tmp_path, capsys):
    shutil.copy(NOTEBOOK, tmp_path / "effect.ipynb")
    write_notebook(
        tmp_path / "deploy.ipynb",
        params='effect = 0.0\nlabel = ""',
        body="from jupyter_mvdp import record\nrecord('deployed_effect', effect)",
    )
    strategy = {
        "kind": "ab",
        "metric": "score",
        "a": {"effect": 0.0, "label": "a", "fail_seed": 2},
        "b": {"effect": 1.0, "label": "b"},
        "replicate": "seed",
        "replicates": 7,
        "promote": True,
        "deploy_notebook": "deploy.ipynb",
    }
    plan = {"grid": {"noise": 0.2}, "strategy": strategy, "parallelism": 2}
    with local_manager(tmp_path) as manager:
        doc = run(manager, plan, "effect.ipynb")
        verdict = doc["ab"]["verdict"]
        assert doc["state"] == "failed"  # a point failed (on purpose); the verdict stands
        assert verdict["verdict"] == "B better", verdict
        assert (verdict["pairs"], verdict["dropped"]) == (6, 1)
        assert verdict["method"] == "exact sign-flip permutation test"
        assert verdict["ci"][0] <= 1.0 <= verdict["ci"][1]  # the true effect
        assert verdict["p_value"] <= 0.05
        assert doc["outcome"] == "deploy"
        assert doc["reason"].startswith("B better: score B - A = +")
        assert doc["reason"].endswith("B is promoted, deployed with deploy.ipynb")
        b = doc["ab"]["variants"]["b"]
        assert b["parameters"] == {"noise": 0.2, "effect": 1.0, "label": "b"}
        assert [v["replicate"] for v in b["values"]] == list(range(7))
        a_values = doc["ab"]["variants"]["a"]["values"]
        assert [v["value"] is None for v in a_values] == [i == 2 for i in range(7)]
        folder = (tmp_path / doc["points"][0]["output"]).parent
        deployed = nbformat.read(folder / "deploy.ipynb", 4)
        assert deployed.metadata["mvdp"]["parameters"] == {
            "noise": 0.2,
            "effect": 1.0,
            "label": "b",
        }
        crowned = manager.store.champion(doc["pipeline"])
        assert crowned["value"] == verdict["mean_b"] and crowned["point_id"].startswith("b-")

        print_run(doc)
        out = capsys.readouterr().out
        assert "A  noise=0.2 effect=0 label=a fail_seed=2  6/7 values  min " in out
        assert "B  noise=0.2 effect=1 label=b  7/7 values  min " in out
        assert "95% CI [" in out and "(exact sign-flip permutation test)" in out
        assert "pairs: 6 used, 1 left out (a side failed)" in out
        assert "verdict: B better: score B - A" in out

        # A is the champion (B above); B has the same effect: noise, not a winner
        again = {**strategy, "a": "champion", "b": {"effect": 1.0, "label": "c"}}
        again["promote"] = False
        doc = run(manager, {**plan, "strategy": again}, "effect.ipynb")
        assert doc["ab"]["variants"]["a"]["parameters"] == b["parameters"]
        assert doc["state"] == "success"
        assert doc["ab"]["verdict"]["verdict"] == "no significant difference"
        assert doc["ab"]["verdict"]["pairs"] == 7 and doc["outcome"] is None
