"""The Airflow target on a real Airflow 3: every strategy end to end, the same leaderboard as
the local runner, Airflow's own import errors, auth and reachability errors."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests

from jupyter_mvdp.exceptions import DagImportError, TargetAuthError, TargetUnreachable
from jupyter_mvdp.targets import build_targets


def titanic_plan(workspace, strategy: dict, grid: dict | None = None) -> dict:
    """The Titanic plan, its data shipped with the notebook (the notebook's own relative
    ``data_path`` reads it on the workers as in the lab)."""
    grid = grid or {"n_estimators": [10, 50], "max_depth": [2, 4], "criterion": ["gini", "entropy"]}
    return {
        "grid": grid,
        "files": ["datasets/titanic.csv"],
        "strategy": strategy,
        "parallelism": 4,
        "timeout": 300,
    }


def run(manager, plan: dict, target: str) -> dict:
    run_id = manager.submit("titanic.ipynb", plan, target, background=False)
    return manager.wait(run_id, interval=0.5)


def leaderboard(doc: dict) -> list[tuple]:
    return sorted(
        (p["id"], p["state"], json.dumps(p["metrics"], sort_keys=True)) for p in doc["points"]
    )


def task_states(airflow, doc: dict) -> dict:
    token = airflow.token()
    url = f"{airflow.url}/api/v2/dags/{doc['pipeline']}/dagRuns/{doc['run_id']}/taskInstances"
    tis = requests.get(
        url, headers={"Authorization": f"Bearer {token}"}, params={"limit": 100}, timeout=10
    ).json()
    return {(t["task_id"], t["map_index"]): t["state"] for t in tis["task_instances"]}


def test_the_harness_runs_airflow_with_auth_on(airflow):
    assert (
        requests.get(f"{airflow.url}/api/v2/monitor/health", timeout=5).json()["scheduler"][
            "status"
        ]
        == "healthy"
    )
    assert requests.get(f"{airflow.url}/api/v2/dags", timeout=5).status_code == 401
    token = airflow.token()
    assert (
        requests.get(
            f"{airflow.url}/api/v2/dags", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).status_code
        == 200
    )


def test_the_executor_has_papermill_imported_before_it_forks_a_task(airflow):
    """The recommended airflow_local_settings.py is in effect: the scheduler (whose
    LocalExecutor workers fork the tasks) has papermill's native modules mapped."""
    scheduler = airflow.process("scheduler")
    maps = Path(f"/proc/{scheduler.pid}/maps").read_text()
    assert "libarrow" in maps  # pyarrow, which papermill imports


def test_grid_on_airflow_equals_the_local_runner(manager, airflow, workspace):
    plan = titanic_plan(workspace, {"kind": "grid", "metric": "accuracy"})
    on_airflow = run(manager, plan, "airflow")
    assert on_airflow["state"] == "success", (
        on_airflow["message"],
        [(p["state"], p["error"]) for p in on_airflow["points"]],
    )
    assert on_airflow["counts"]["success"] == 8
    states = task_states(airflow, on_airflow)
    assert sum(1 for (task, index) in states if task == "run_point") == 8  # one mapped task
    for point in on_airflow["points"]:
        assert point["metrics"]["accuracy"] > 0.7
        assert (workspace / point["output"]).exists()
    local = run(manager, plan, "local")
    assert leaderboard(on_airflow) == leaderboard(local)
    assert on_airflow["best"]["id"] == local["best"]["id"]


def test_early_stop_on_airflow_stops_like_the_local_runner(manager, airflow, workspace):
    strategy = {"kind": "early_stop", "metric": "accuracy", "target": 0.765, "budget": 6, "seed": 0}
    grid = {"n_estimators": [10, 25], "max_depth": [1, 2, 3, 4], "criterion": ["gini", "entropy"]}
    plan = {**titanic_plan(workspace, strategy, grid), "parallelism": 2}
    on_airflow = run(manager, plan, "airflow")
    assert on_airflow["state"] == "success", (
        on_airflow["message"],
        [(p["state"], p["error"]) for p in on_airflow["points"]],
    )
    assert 0 < on_airflow["counts"]["success"] < 16
    assert on_airflow["counts"]["skipped"] == 16 - on_airflow["counts"]["success"]
    assert "reached the target" in on_airflow["reason"] or "budget" in on_airflow["reason"]
    local = run(manager, plan, "local")
    assert leaderboard(on_airflow) == leaderboard(local)
    assert on_airflow["reason"] == local["reason"]


@pytest.mark.parametrize(
    ("baseline", "outcome", "taken", "skipped"),
    [
        (0.5, "deploy", "deploy_new_model", "alert_of_failed_model"),
        (0.99, "alert", "alert_of_failed_model", "deploy_new_model"),
    ],
)
def test_canary_branches_on_airflow(manager, airflow, workspace, baseline, outcome, taken, skipped):
    strategy = {
        "kind": "canary",
        "metric": "accuracy",
        "baseline": baseline,
        "tolerance": 0.01,
        "deploy_notebook": "deploy_titanic.ipynb",
    }
    plan = titanic_plan(workspace, strategy, {"max_depth": [3, 4]})
    doc = run(manager, plan, "airflow")
    assert doc["outcome"] == outcome, doc
    states = task_states(airflow, doc)
    assert states[(taken, -1)] == "success"
    assert states[(skipped, -1)] == "skipped"
    local = run(manager, plan, "local")
    assert local["outcome"] == outcome
    assert doc["reason"].split(";")[0] == local["reason"].split(";")[0]


def test_a_rerun_is_not_redeployed_and_a_changed_plan_runs_its_own_points(
    manager, airflow, workspace
):
    """Re-running a plan leaves the DAG file alone (Airflow already serves it: no parse to
    wait for); a plan changed right after is triggered only once Airflow serves the new file
    (never the DAG parsed before: its points would run), however late the parse comes."""
    plan = titanic_plan(workspace, {"kind": "grid", "metric": "accuracy"}, {"max_depth": [2]})
    first = run(manager, plan, "airflow")
    dag_file = airflow.dags_folder / f"{first['pipeline']}.py"
    written = dag_file.stat().st_mtime_ns
    again = run(manager, plan, "airflow")
    assert (first["state"], again["state"]) == ("success", "success"), again["message"]
    assert dag_file.stat().st_mtime_ns == written
    plan = titanic_plan(workspace, {"kind": "grid", "metric": "accuracy"}, {"max_depth": [3, 4, 5]})
    with airflow.parsing_frozen():
        run_id = manager.submit("titanic.ipynb", plan, "airflow", background=True)
        time.sleep(4)
        url = f"{airflow.url}/api/v2/dags/{first['pipeline']}/dagRuns/{run_id}"
        headers = {"Authorization": f"Bearer {airflow.token()}"}
        assert requests.get(url, headers=headers, timeout=10).status_code == 404
        assert "waiting for Airflow to parse" in manager.document(run_id)["progress"]
    changed = manager.wait(run_id, interval=0.5)
    assert changed["state"] == "success", changed["message"]
    assert dag_file.stat().st_mtime_ns != written
    mapped = sorted(i for (task, i) in task_states(airflow, changed) if task == "run_point")
    assert mapped == [0, 1, 2]
    assert sorted(p["parameters"]["max_depth"] for p in changed["points"]) == [3, 4, 5]
    assert all((workspace / p["output"]).exists() for p in changed["points"])


def test_an_import_error_reaches_the_user(manager, airflow, workspace):
    target = manager.targets["airflow"]
    spec = manager.prepare(
        "titanic.ipynb", titanic_plan(workspace, {"kind": "grid"}, {"max_depth": [2]}), "airflow"
    )
    spec.pipeline += "_broken"
    spec.dag_source = "from airflow.sdk import dag  # a DAG file with a broken import\nimport this_module_does_not_exist\n"
    with pytest.raises(DagImportError, match="No module named 'this_module_does_not_exist'"):
        target.deploy(spec)
    target.remove(spec.pipeline)


def test_wrong_credentials_and_unreachable_airflow(airflow):
    settings = {**airflow.target_settings(), "password": "wrong"}
    settings.pop("kind")
    bad = build_targets({"bad": {"kind": "airflow", **settings}})["bad"]
    with pytest.raises(TargetAuthError, match="refused the login") as caught:
        bad.check()
    assert "wrong" not in caught.value.message.replace("wrong user", "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = build_targets(
        {"down": {"kind": "airflow", **{**settings, "api_url": f"http://127.0.0.1:{port}"}}}
    )["down"]
    with pytest.raises(TargetUnreachable, match="Cannot reach Airflow"):
        down.check()
    assert airflow.password not in json.dumps(
        build_targets({"a": airflow.target_settings()})["a"].describe()
    )


def test_paging_cancel_and_the_log_of_a_failed_point(airflow, workspace):
    """Task instances are read page by page (8 points, 2 per page); a failed point's log
    comes from Airflow; a cancelled run ends cancelled."""
    from jupyter_mvdp.service.manager import RunManager
    from jupyter_mvdp.service.store import RunStore
    from tests.targets.test_local import write_notebook

    write_notebook(workspace / "tiny.ipynb")
    targets = build_targets({"airflow": airflow.target_settings()})
    targets["airflow"].page_size = 2  # 8 points + 2 other tasks: five pages
    manager = RunManager(
        RunStore(workspace / "tiny.sqlite"), targets, root_dir=workspace, user="pager"
    )
    plan = {
        "grid": {"x": [1, 2, 3, 4], "fail": [False, True]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 4,
    }
    run_id = manager.submit("tiny.ipynb", plan, "airflow", background=False)
    doc = manager.wait(run_id, interval=0.5)
    assert doc["state"] == "failed"
    assert doc["counts"] == {"queued": 0, "running": 0, "success": 4, "failed": 4, "skipped": 0}
    assert sorted(p["metrics"].get("score") for p in doc["points"] if p["state"] == "success") == [
        1,
        2,
        3,
        4,
    ]
    failed = next(p for p in doc["points"] if p["state"] == "failed")
    log = targets["airflow"].logs(manager.store.spec(run_id), failed["id"])
    assert "ValueError" in log and "boom" in log

    slow = manager.submit(
        "tiny.ipynb",
        {"grid": {"sleep": [60.0, 61.0]}, "strategy": {"kind": "grid"}},
        "airflow",
        background=False,
    )
    deadline = time.monotonic() + 120
    while manager.document(slow)["counts"]["running"] == 0:
        manager.sync(slow)
        assert time.monotonic() < deadline
        time.sleep(0.5)
    manager.cancel(slow)
    doc = manager.wait(slow, interval=0.5)
    assert doc["state"] == "cancelled"


def test_the_readme_example_runs_on_airflow_from_a_fresh_clone(airflow, tmp_path):
    """`jupyter mvdp run notebooks/titanic.ipynb --target airflow` in a fresh clone (the
    tracked files only), with the target config dev-airflow prints and no file edited: the
    plan saved in the notebook ships the Titanic data, which the notebook reads by its
    relative path on the workers."""
    repo = Path(__file__).resolve().parents[2]
    clone = tmp_path / "clone"
    tracked = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "notebooks"], capture_output=True, text=True
    ).stdout.split()
    assert "notebooks/datasets/titanic.csv" in tracked
    for name in tracked:
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(repo / name, clone / name)
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    config = tmp_path / "airflow.json"
    config.write_text(json.dumps({"targets": {"airflow": airflow.target_settings()}}))
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run(
        [
            str(jupyter),
            "mvdp",
            "--config",
            str(config),
            "run",
            "notebooks/titanic.ipynb",
            "--target",
            "airflow",
            "--json",
        ],
        cwd=clone,
        env={**os.environ, "MVDP_DB": str(tmp_path / "runs.sqlite")},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    doc = json.loads(done.stdout)
    assert doc["state"] == "success" and doc["target"] == "airflow"
    assert doc["counts"]["success"] == 8
    assert all(p["metrics"]["accuracy"] > 0.7 for p in doc["points"])
    assert all((clone / p["output"]).is_file() for p in doc["points"])


def test_provenance_read_back_from_an_airflow_output_is_the_local_one(manager, airflow, workspace):
    """The same provenance on Airflow as locally (runtime.provenance, the same keys): the
    input notebook's path and the sha256 of the bytes that ran, the run, point, pipeline,
    target, kernel, and the versions as the kernel that ran the point saw them (Airflow's
    venv there, the lab's here); papermill's own input_path is a path."""
    plan = titanic_plan(workspace, {"kind": "grid", "metric": "accuracy"}, {"max_depth": [3]})
    docs = {target: run(manager, plan, target) for target in ("airflow", "local")}
    sha = hashlib.sha256((workspace / "titanic.ipynb").read_bytes()).hexdigest()
    meta = {}
    for target, doc in docs.items():
        assert doc["state"] == "success", doc["message"]
        (point,) = doc["points"]
        nb = nbformat.read(workspace / point["output"], as_version=4)
        meta[target] = nb.metadata["mvdp"]
        assert meta[target]["input"] == "titanic.ipynb" and meta[target]["input_sha256"] == sha
        assert (meta[target]["run_id"], meta[target]["point_id"]) == (doc["run_id"], point["id"])
        assert meta[target]["pipeline"] == doc["pipeline"] and meta[target]["target"] == target
        assert meta[target]["parameters"] == {"max_depth": 3}
        assert meta[target]["kernel"] == "python3"
        assert isinstance(nb.metadata["papermill"]["input_path"], str)
    airflow_meta, local_meta = meta["airflow"], meta["local"]
    assert set(airflow_meta) == set(local_meta)
    assert set(airflow_meta["versions"]) == set(local_meta["versions"])
    assert set(airflow_meta["versions"]["packages"]) == {"jupyter_mvdp", "pandas", "sklearn"}
    seen = json.loads(
        subprocess.run(
            [str(airflow.venv / "bin" / "python"), "-c", KERNEL_VERSIONS],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert airflow_meta["versions"]["python"] == seen["python"]
    assert airflow_meta["versions"]["packages"]["pandas"] == seen["pandas"]
    assert airflow_meta["versions"]["packages"]["sklearn"] == seen["scikit-learn"]
    assert airflow_meta["versions"]["papermill"] == seen["papermill"]
    import pandas

    assert local_meta["versions"]["packages"]["pandas"] == pandas.__version__


KERNEL_VERSIONS = (
    "import importlib.metadata as m, json, sys; print(json.dumps({'python': "
    "sys.version.split()[0], **{d: m.version(d) for d in ('pandas', 'scikit-learn', "
    "'papermill')}}))"
)


def test_a_redeploy_in_the_middle_of_a_run_lets_both_runs_run_their_own_points(
    manager, airflow, workspace
):
    """Productionized again with another grid while its second point runs, a run still runs
    its own four points with their parameters (none skipped, none replaced), and the new run
    its own two; Airflow queues the second run until the first ends (max_active_runs=1)."""
    from tests.targets.test_local import write_notebook

    write_notebook(workspace / "tiny.ipynb")
    plan = {
        "grid": {"x": [1, 2, 3, 4], "sleep": [4.0]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }
    first = manager.submit("tiny.ipynb", plan, "airflow", background=False)
    deadline = time.monotonic() + 180
    while not (
        manager.document(first)["counts"]["success"] >= 1
        and manager.document(first)["counts"]["running"] >= 1
    ):
        manager.sync(first)
        assert time.monotonic() < deadline, manager.document(first)
        time.sleep(0.5)
    other = {**plan, "grid": {"x": [10, 20], "sleep": [0.5]}}
    second = manager.submit("tiny.ipynb", other, "airflow", background=False)
    assert manager.document(first)["state"] == "running"
    docs = {}
    while len(docs) < 2:
        for run_id in (first, second):
            if run_id not in docs:
                manager.sync(run_id)
                if manager.document(run_id)["state"] not in ("queued", "running"):
                    docs[run_id] = manager.document(run_id)
        assert time.monotonic() < deadline + 240, [manager.document(r) for r in (first, second)]
        time.sleep(0.5)
    for run_id, xs in ((first, [1, 2, 3, 4]), (second, [10, 20])):
        doc = docs[run_id]
        assert doc["state"] == "success", (doc["message"], doc["points"])
        assert sorted(p["metrics"]["score"] for p in doc["points"]) == xs
        assert sorted(p["parameters"]["x"] for p in doc["points"]) == xs
        mapped = {i: s for (task, i), s in task_states(airflow, doc).items() if task == "run_point"}
        assert mapped == dict.fromkeys(range(len(xs)), "success")
    token = airflow.token()
    runs = {
        run_id: requests.get(
            f"{airflow.url}/api/v2/dags/{docs[first]['pipeline']}/dagRuns/{run_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        for run_id in (first, second)
    }
    assert runs[second]["start_date"] >= runs[first]["end_date"]  # queued behind the first
