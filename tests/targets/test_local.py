"""The embedded local runner on real kernels: parallel points, failures, timeouts, early stop,
canary outcomes, cancel, resume, provenance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.core import strategies
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan, PointStatus
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets

PARAMS = "x = 1  # the score this point records\nfail = False  # raise in the notebook\nsleep = 0.0  # seconds to sleep"
BODY = (
    "import time\n"
    "from jupyter_mvdp import record\n"
    "time.sleep(sleep)\n"
    "if fail:\n"
    "    raise ValueError(f'boom at x={x}')\n"
    "record('score', x)"
)


def write_notebook(path: Path, params: str = PARAMS, body: str = BODY) -> Path:
    nb = new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        }
    )
    nb.cells = [new_code_cell(params, metadata={"tags": ["parameters"]}), new_code_cell(body)]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def workspace(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    return tmp_path


@contextmanager
def local_manager(workspace: Path, targets: dict | None = None):
    """A run manager of the workspace with the default targets (or ``targets``)."""
    store = RunStore(workspace / "runs.sqlite")
    try:
        yield RunManager(store, build_targets(targets or {}), root_dir=workspace, user="tester")
    finally:
        store.close()


@pytest.fixture
def manager(workspace):
    with local_manager(workspace) as manager:
        yield manager


def run(manager, plan: dict, notebook: str = "tiny.ipynb") -> dict:
    run_id = manager.submit(notebook, plan, "local", background=False)
    return manager.wait(run_id, interval=0.1)


def by_x(doc: dict) -> dict:
    return {p["parameters"].get("x"): p for p in doc["points"]}


def test_grid_runs_every_point_in_parallel_with_outputs_and_provenance(manager, workspace):
    doc = run(
        manager,
        {
            "grid": {"x": [1, 2, 3]},
            "strategy": {"kind": "grid", "metric": "score"},
            "parallelism": 3,
        },
    )
    assert doc["state"] == "success"
    assert {p["state"] for p in doc["points"]} == {"success"}
    assert {x: p["metrics"] for x, p in by_x(doc).items()} == {
        1: {"score": 1},
        2: {"score": 2},
        3: {"score": 3},
    }
    assert doc["best"]["parameters"] == {"x": 3}
    # the three points overlapped in time: run in parallel, not one after the other
    starts = sorted(p["started"] for p in doc["points"])
    ends = sorted(p["finished"] for p in doc["points"])
    assert starts[-1] < ends[0]
    point = by_x(doc)[2]
    output = workspace / point["output"]
    assert output.parent == workspace / "mvdp-runs" / doc["pipeline"] / doc["run_id"]
    assert output.name == f"{point['id']}.ipynb"
    meta = nbformat.read(output, as_version=4).metadata
    assert meta["mvdp"]["parameters"] == {"x": 2}
    assert meta["mvdp"]["run_id"] == doc["run_id"]
    assert meta["mvdp"]["target"] == "local"
    assert meta["mvdp"]["kernel"] == "python3"
    assert len(meta["mvdp"]["input_sha256"]) == 64
    assert meta["papermill"]["parameters"] == {"x": 2}


def test_a_failing_point_is_recorded_with_its_cell_and_exception_while_others_go_on(manager):
    doc = run(
        manager,
        {
            "grid": {"x": [1, 2], "fail": [False, True]},
            "strategy": {"kind": "grid", "metric": "score"},
        },
    )
    states = {(p["parameters"]["x"], p["parameters"]["fail"]): p for p in doc["points"]}
    assert doc["state"] == "failed"
    assert states[(1, False)]["state"] == states[(2, False)]["state"] == "success"
    failed = states[(2, True)]
    assert failed["state"] == "failed"
    assert "ValueError: boom at x=2" in failed["error"]
    assert failed["error"] == "In [3]: ValueError: boom at x=2"  # its output notebook's prompt
    assert failed["output"]  # the executed notebook with the traceback is kept
    assert doc["best"]["parameters"] == {"x": 2, "fail": False}


def test_a_point_over_the_timeout_is_stopped_and_failed(manager):
    started = time.monotonic()
    doc = run(
        manager,
        {
            "grid": {"sleep": [0.0, 60.0]},
            "strategy": {"kind": "grid"},
            "timeout": 4,
            "parallelism": 2,
        },
    )
    elapsed = time.monotonic() - started
    slow = next(p for p in doc["points"] if p["parameters"]["sleep"] == 60.0)
    fast = next(p for p in doc["points"] if p["parameters"]["sleep"] == 0.0)
    assert slow["state"] == "failed"
    assert slow["error"] == "TimeoutError: the point ran longer than the plan's timeout of 4 s"
    assert fast["state"] == "success"
    assert elapsed < 40  # it did not wait for the 60 s sleep


def test_early_stop_really_stops_and_skips_the_rest(manager):
    plan = {
        "grid": {"x": list(range(1, 9))},
        "strategy": {
            "kind": "early_stop",
            "metric": "score",
            "goal": "max",
            "target": 6,
            "seed": 3,
        },
        "parallelism": 2,
    }
    doc = run(manager, plan)
    # what strategies.py decides for the same plan, simulated with score == x
    p = Plan.from_json(plan)
    ran = []
    for batch in strategies.rounds(p.strategy, strategies.ordered(p.strategy, expand(p.grid)), 2):
        ran += [pt.parameters["x"] for pt in batch]
        if max(ran) >= 6:
            break
    assert 0 < len(ran) < 8, "the seed must make this test stop early"
    executed = sorted(x for x, pt in by_x(doc).items() if pt["state"] == "success")
    skipped = sorted(x for x, pt in by_x(doc).items() if pt["state"] == "skipped")
    assert executed == sorted(ran)
    assert skipped == sorted(set(range(1, 9)) - set(ran))
    assert doc["state"] == "success"
    assert "reached the target 6" in doc["reason"]


def test_early_stop_budget_limits_the_points_run(manager):
    plan = {
        "grid": {"x": list(range(1, 9))},
        "strategy": {
            "kind": "early_stop",
            "metric": "score",
            "target": 100,
            "budget": 3,
            "seed": 0,
        },
        "parallelism": 2,
    }
    doc = run(manager, plan)
    assert doc["counts"]["success"] == 3
    assert doc["counts"]["skipped"] == 5
    assert "budget of 3" in doc["reason"]


def test_canary_deploys_then_alerts_against_the_champion(manager, workspace):
    write_notebook(
        workspace / "deploy.ipynb",
        params="x = 0  # winning x",
        body="from pathlib import Path\nPath('deployed.txt').write_text(str(x))",
    )
    canary = {
        "kind": "canary",
        "metric": "score",
        "goal": "max",
        "tolerance": 0.5,
        "deploy_notebook": "deploy.ipynb",
    }
    first = run(manager, {"grid": {"x": [3, 5]}, "strategy": canary})
    assert first["outcome"] == "deploy"
    assert "first model" in first["reason"]
    assert (
        workspace / "deployed.txt"
    ).read_text() == "5"  # the deploy notebook ran with the best x
    assert manager.store.champion(first["pipeline"])["value"] == 5

    second = run(manager, {"grid": {"x": [4]}, "strategy": canary})
    assert second["outcome"] == "alert"
    assert second["state"] == "success"
    assert "score 4 is below the champion's 5 (tolerance 0.5" in second["reason"]
    assert manager.store.champion(first["pipeline"])["value"] == 5  # unchanged

    third = run(manager, {"grid": {"x": [4]}, "strategy": {**canary, "baseline": 4.2}})
    assert third["outcome"] == "deploy"
    assert "within tolerance 0.5 of the baseline 4.2" in third["reason"]


def test_cancel_stops_running_points_and_skips_queued_ones(manager):
    run_id = manager.submit(
        "tiny.ipynb",
        {"grid": {"sleep": [30.0, 31.0, 32.0]}, "strategy": {"kind": "grid"}, "parallelism": 1},
        "local",
        background=False,
    )
    deadline = time.monotonic() + 30
    while manager.document(run_id)["counts"]["running"] == 0:
        manager.sync(run_id)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    manager.cancel(run_id)
    doc = manager.wait(run_id, interval=0.1)
    assert doc["state"] == "cancelled"
    assert doc["counts"] == {"queued": 0, "running": 0, "success": 0, "failed": 1, "skipped": 2}
    assert next(p for p in doc["points"] if p["state"] == "failed")["error"] == "cancelled"


def test_resume_runs_only_the_points_not_finished(manager, workspace):
    spec = manager.prepare(
        "tiny.ipynb", {"grid": {"x": [1, 2, 3]}, "strategy": {"kind": "grid", "metric": "score"}}
    )
    done = spec.points[0]
    known = {done.id: PointStatus(state="success", metrics={"score": 99})}
    target = manager.targets["local"]
    target.resume(spec, known)
    target.wait(spec, timeout=60)
    snap = target.poll(spec)
    assert snap.state == "success"
    assert snap.points[done.id].metrics == {"score": 99}  # kept, not re-run
    assert not (Path(spec.output_dir) / f"{done.id}.ipynb").exists()
    assert all((Path(spec.output_dir) / f"{p.id}.ipynb").exists() for p in spec.points[1:])


def test_logs_hold_the_worker_output(manager):
    doc = run(manager, {"grid": {"fail": [True]}, "strategy": {"kind": "grid"}})
    spec = manager.store.spec(doc["run_id"])
    log = manager.targets["local"].logs(spec, doc["points"][0]["id"])
    assert "ValueError" in log
    assert "boom at x=1" in log


def test_run_document_is_json_serializable(manager):
    doc = run(manager, {"grid": {"x": [1]}, "strategy": {"kind": "grid", "metric": "score"}})
    assert json.loads(json.dumps(doc))["points"][0]["metrics"] == {"score": 1}


FLAKY_PARAMS = 'x = 1\nfails = 0  # how many tries fail\nmarks = "."  # where tries are counted'
FLAKY_BODY = (
    "from pathlib import Path\n"
    "from jupyter_mvdp import record\n"
    "mark = Path(marks) / f'tries-{x}'\n"
    "n = int(mark.read_text()) + 1 if mark.exists() else 1\n"
    "mark.write_text(str(n))\n"
    "if n <= fails:\n"
    "    raise RuntimeError(f'try {n} of x={x} fails')\n"
    "record('score', x)"
)


@pytest.mark.parametrize(("fails", "state"), [(1, "success"), (2, "failed")])
def test_retries_try_a_failed_point_again_and_keep_each_try(manager, workspace, fails, state):
    """The plan's retries: a point that fails is run again after retry_delay; its history
    keeps every try (state, error) and the output is the last try's."""
    write_notebook(workspace / "flaky.ipynb", FLAKY_PARAMS, FLAKY_BODY)
    (workspace / "marks").mkdir()
    plan = {
        "grid": {"x": [1, 2], "fails": [fails], "marks": str(workspace / "marks")},
        "strategy": {"kind": "grid", "metric": "score"},
        "retries": 1,
        "retry_delay": 0.3,
    }
    doc = run(manager, plan, "flaky.ipynb")
    assert doc["plan"]["retries"] == 1 and doc["plan"]["retry_delay"] == 0.3
    for x, point in by_x(doc).items():
        assert point["state"] == state
        assert [t["try"] for t in point["tries"]] == [1, 2]
        first, last = point["tries"]
        assert first["state"] == "failed"
        assert first["error"] == f"In [3]: RuntimeError: try 1 of x={x} fails"
        assert first["finished"] <= last["started"] - 0.3
        assert last["state"] == state
        assert (workspace / "marks" / f"tries-{x}").read_text() == "2"
        if state == "success":
            assert point["error"] is None and point["metrics"] == {"score": x}
        else:
            assert point["error"] == last["error"]
            assert last["error"] == f"In [3]: RuntimeError: try 2 of x={x} fails"
        assert (workspace / point["output"]).exists()


def test_without_retries_a_failed_point_has_one_try(manager, workspace):
    write_notebook(workspace / "flaky.ipynb", FLAKY_PARAMS, FLAKY_BODY)
    plan = {"grid": {"x": [3], "fails": [1], "marks": str(workspace)}, "strategy": {"kind": "grid"}}
    point = run(manager, plan, "flaky.ipynb")["points"][0]
    assert point["state"] == "failed" and len(point["tries"]) == 1
    assert point["tries"][0]["error"] == point["error"]


@contextmanager
def kernel_that_dies_once(prefix: Path, python: str, marker: Path):
    """A kernelspec ``mvdp-dies-once`` under ``prefix`` (a venv's sys.prefix): its first start
    exits before answering kernel_info, as when two of many starting kernels take the same
    port; later starts are ipykernel's."""
    spec_dir = prefix / "share" / "jupyter" / "kernels" / "mvdp-dies-once"
    spec_dir.mkdir(parents=True, exist_ok=True)
    script = (
        "import os, sys\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    open(marker, 'w').close()\n"
        "    sys.exit(1)\n"
        "from ipykernel import kernelapp\n"
        "kernelapp.launch_new_instance()\n"
    )
    spec = {
        "argv": [python, "-c", script, "-f", "{connection_file}"],
        "display_name": "dies once",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    try:
        yield "mvdp-dies-once"
    finally:
        shutil.rmtree(spec_dir)


def test_a_kernel_that_dies_while_starting_is_started_again(manager, workspace, tmp_path):
    """A kernel that exits before answering ran no cell: the point starts another instead of
    failing."""
    marker = tmp_path / "first-start-died"
    with kernel_that_dies_once(Path(sys.prefix), sys.executable, marker) as kernel:
        doc = run(
            manager,
            {"grid": {"x": [5]}, "strategy": {"kind": "grid", "metric": "score"}, "kernel": kernel},
        )
    assert marker.exists()  # the first start did die
    (point,) = doc["points"]
    assert point["state"] == "success" and point["metrics"] == {"score": 5}, point


@pytest.mark.parametrize("shared", [False, True], ids=["private", "shared_outputs"])
def test_outputs_and_logs_are_their_owners_only_unless_shared(workspace, shared):
    """On a shared host a point's notebook holds its parameters: by default no one else may
    read it, its log or its folders; ``shared_outputs`` leaves them to the umask."""
    import stat

    store = RunStore(workspace / "runs.sqlite")
    manager = RunManager(
        store, build_targets({}), root_dir=workspace, user="tester", shared_outputs=shared
    )
    try:
        doc = run(manager, {"grid": {"x": [1]}, "strategy": {"kind": "grid"}})
    finally:
        store.close()
    (point,) = doc["points"]
    output = workspace / point["output"]
    log = output.parent / ".logs" / f"{point['id']}.log"
    umask = os.umask(0)  # what shared files get: the process's umask decides
    os.umask(umask)
    file_mode, dir_mode = (0o666 & ~umask, 0o777 & ~umask) if shared else (0o600, 0o700)
    for path in (output, log):
        assert stat.S_IMODE(path.stat().st_mode) == file_mode, path
    for folder in (output.parent, output.parent.parent, workspace / "mvdp-runs", log.parent):
        assert stat.S_IMODE(folder.stat().st_mode) == dir_mode, folder


def marked(version: int) -> str:
    """A notebook body that records which version of the notebook ran."""
    return (
        "import time\n"
        "from jupyter_mvdp import record\n"
        "time.sleep(sleep)\n"
        f"record('version', {version})\n"
        "record('score', x)"
    )


def test_an_edited_notebook_never_runs_under_the_hash_of_another(manager, workspace):
    """The notebook is read once, when the run is submitted: edited right after (between its
    hash and its run) and again while its points run, every output ran the bytes its
    provenance's input_sha256 names (the notebook as submitted), and says so."""
    import hashlib

    path = write_notebook(workspace / "edited.ipynb", "x = 1\nsleep = 0.0", marked(1))
    submitted = hashlib.sha256(path.read_bytes()).hexdigest()
    plan = {
        "grid": {"x": [1, 2, 3], "sleep": [0.5]},
        "strategy": {"kind": "grid", "metric": "score"},
        "parallelism": 1,
    }
    spec = manager.prepare("edited.ipynb", plan, "local")
    write_notebook(path, "x = 1\nsleep = 0.0", marked(2))  # edited right after the submit
    run_id = manager.start(spec, background=False)
    deadline = time.monotonic() + 120
    while manager.document(run_id)["counts"]["success"] < 1:
        manager.sync(run_id)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    write_notebook(path, "x = 1\nsleep = 0.0", marked(3))  # and again while the points run
    doc = manager.wait(run_id, interval=0.1)
    assert doc["state"] == "success", [p["error"] for p in doc["points"]]
    for point in doc["points"]:
        assert point["metrics"]["version"] == 1
        nb = nbformat.read(workspace / point["output"], as_version=4)
        assert nb.metadata["mvdp"]["input_sha256"] == submitted
        assert nb.metadata["mvdp"]["input"] == "edited.ipynb"


def test_an_output_is_no_bigger_than_papermills_own(manager, workspace):
    """A local output records where its input was (a path, as papermill writes it), not a
    copy of the input notebook with its old outputs: it is the size of papermill's own output
    of the same notebook, plus its provenance."""
    import papermill

    path = write_notebook(workspace / "big.ipynb")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(new_code_cell("1 + 1"))
    nb.cells[-1].outputs = [nbformat.v4.new_output("stream", text="x" * 200_000)]
    nbformat.write(nb, path)
    doc = run(manager, {"grid": {"x": [2]}, "strategy": {"kind": "grid"}}, "big.ipynb")
    (point,) = doc["points"]
    ours = nbformat.read(workspace / point["output"], as_version=4)
    papermills = workspace / "papermill.ipynb"
    papermill.execute_notebook(path, papermills, parameters={"x": 2}, progress_bar=False)
    assert isinstance(ours.metadata["papermill"]["input_path"], str)
    assert size_but_names(ours) <= size_but_names(nbformat.read(papermills, as_version=4)) + 64


def size_but_names(nb) -> int:
    """A notebook's size without what differs by name only: its provenance, and the paths
    papermill writes when they are paths (a copy of a notebook there counts in full). The 64
    bytes allowed above are the digits of the cells' timings."""
    nb = nbformat.from_dict(json.loads(nbformat.writes(nb)))
    nb.metadata.pop("mvdp", None)
    for key in ("input_path", "output_path"):
        if isinstance(nb.metadata["papermill"][key], str):
            nb.metadata["papermill"][key] = ""
    return len(nbformat.writes(nb))


@pytest.mark.timeout(120)
def test_a_long_error_message_fails_the_point_and_its_log_keeps_all_of_it(manager, workspace):
    """An exception whose first line is 70,000 characters: the worker's answer never waits on
    a full pipe (it is bounded and read as soon as sent); the log has the whole message."""
    write_notebook(workspace / "long.ipynb", body="raise ValueError('x' * 70_000)")
    doc = run(manager, {"grid": {}, "strategy": {"kind": "grid"}}, "long.ipynb")
    (point,) = doc["points"]
    assert point["state"] == "failed"
    assert point["error"].startswith("In [2]: ValueError: xxxxxxxx")
    assert point["error"].endswith("more characters in the point's log)")
    spec = manager.store.spec(doc["run_id"])
    assert "x" * 70_000 in manager.targets["local"].logs(spec, point["id"])


def test_a_missing_kernel_names_the_plans_kernel_and_those_installed(manager):
    doc = run(manager, {"grid": {}, "strategy": {"kind": "grid"}, "kernel": "no-such-kernel"})
    error = doc["points"][0]["error"]
    assert "no kernel named 'no-such-kernel'" in error, error
    assert 'set the plan\'s "kernel"' in error and "python3" in error, error


BUSY = (
    "import os, time\n"
    "from pathlib import Path\n"
    "from jupyter_mvdp import record\n"
    "me = Path(folder) / str(os.getpid())\n"
    "me.touch()\n"
    "seen = 0\n"
    "for _ in range(30):  # how many kernels run at once, seen from inside one\n"
    "    seen = max(seen, len(list(Path(folder).iterdir())))\n"
    "    time.sleep(0.1)\n"
    "me.unlink()\n"
    "record('seen', seen)"
)


@pytest.mark.timeout(300)
def test_the_kernels_of_all_runs_at_once_stay_within_max_kernels(workspace):
    """Three runs of two points at once, ``max_kernels`` 2: never more than two kernels
    run together (each point counts the others'); the other points wait queued."""
    write_notebook(workspace / "busy.ipynb", 'folder = "."\nx = 0', BUSY)
    folder = workspace / "running"
    folder.mkdir()
    plan = {"grid": {"folder": str(folder), "x": [1, 2]}, "strategy": {"kind": "grid"}}
    with local_manager(workspace, {"local": {"kind": "local", "max_kernels": 2}}) as manager:
        assert manager.targets["local"].describe()["settings"]["max_kernels"] == 2
        run_ids = [
            manager.submit("busy.ipynb", {**plan, "parallelism": 2}, "local", background=False)
            for _ in range(3)
        ]
        docs = [manager.wait(run_id, interval=0.1) for run_id in run_ids]
    points = [p for doc in docs for p in doc["points"]]
    assert {p["state"] for p in points} == {"success"}, [p["error"] for p in points]
    assert max(p["metrics"]["seen"] for p in points) <= 2


def test_max_kernels_defaults_to_two_per_core():
    assert build_targets({})["local"].describe()["settings"]["max_kernels"] == 2 * (
        os.cpu_count() or 1
    )


@pytest.mark.timeout(240)
def test_a_full_disk_under_the_outputs_names_the_disk_and_the_path(tmp_path):
    """The CLI in a mount namespace of its own, its outputs on a 100 KiB tmpfs that the
    point's output notebook (200 KB of output) cannot fit: the point's error says so."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("needs unshare(1) and mount(8)")
    write_notebook(tmp_path / "big.ipynb", body="print('x' * 200_000)")
    (tmp_path / "plan.json").write_text(json.dumps({"grid": {}, "strategy": {"kind": "grid"}}))
    outputs = tmp_path / "mvdp-runs"
    outputs.mkdir()
    cli = f"{sys.executable} -m jupyter_mvdp.cli --db runs.sqlite run big.ipynb --plan plan.json"
    script = f"mount -t tmpfs -o size=100k tmpfs {outputs} && exec {cli} --json"
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    done = subprocess.run(
        ["unshare", *as_root, "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=200,
    )
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    (point,) = json.loads(done.stdout)["points"]
    assert point["state"] == "failed"
    assert "no space left on the disk mounted at" in point["error"], point["error"]
    assert f"writing {outputs}" in point["error"], point["error"]


@pytest.mark.timeout(300)
def test_twenty_thousand_scraps_are_all_read(manager, workspace):
    """A cell recording 20,000 scraps (a display message each): every one reaches the point's
    metrics, none dropped on the way (ZeroMQ's high-water mark), and reading them does not
    fail the point (nbclient's 4 s wait for a cell's last outputs)."""
    body = "from jupyter_mvdp import record\nfor i in range(n):\n    record(f'm{i}', i)"
    write_notebook(workspace / "scraps.ipynb", "n = 10", body)
    doc = run(manager, {"grid": {"n": [20_000]}, "strategy": {"kind": "grid"}}, "scraps.ipynb")
    (point,) = doc["points"]
    assert point["state"] == "success", point["error"]
    assert len(point["metrics"]) == 20_000
