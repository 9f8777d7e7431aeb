"""A finished 10,000-point grid run written into a run store, for the handler tests and
bench/lab_big_run.py: what a local run leaves there, without running 10,000 kernels.

The run is prepared by the manager from a real notebook (tests/targets/test_local.py's
``tiny.ipynb``: it records ``score = x``), then the store gets the rows the runner's sync
writes (``RunStore.update_points`` / ``update_run``): each point's state, metrics (``score``,
with ties: 100 points share each value), output path, times and tries. Every 7th point
failed (after recording a score, so it is listed but never ranked) and every 11th was skipped.
"""

from __future__ import annotations

import time

from jupyter_mvdp.core.models import PointStatus

SIDE = 100  # x and sleep: 100 values each, 10,000 points


def status_of(i: int, x: int, output: str, now: float) -> PointStatus:
    if i % 7 == 3:
        state, error = "failed", f"ValueError: boom at x={x}"
    elif i % 11 == 5:
        return PointStatus(state="skipped")
    else:
        state, error = "success", None
    started, finished = now + i * 0.01, now + i * 0.01 + 1.5
    return PointStatus(
        state=state,
        metrics={"score": x, "half": x / 2},
        output=output,
        error=error,
        started=started,
        finished=finished,
        tries=[
            {"try": 1, "state": state, "error": error, "started": started, "finished": finished}
        ],
    )


def write_big_run(manager, notebook: str = "tiny.ipynb", user: str | None = None) -> str:
    """Store a finished 10,000-point run of ``notebook`` for ``user``; returns its id."""
    plan = {
        "grid": {"x": list(range(SIDE)), "sleep": [i / 1000 for i in range(SIDE)]},
        "strategy": {"kind": "grid", "metric": "score", "goal": "max"},
    }
    spec = manager.prepare(notebook, plan, "local", user)
    user = user or manager.user
    # owned by this process while it writes: a server on the same store never takes it over
    manager.store.create(spec, notebook=notebook, user=user, owner=manager.owner.columns())
    manager.store.update_run(spec.run_id, state="running", progress="triggered")
    now = time.time()
    folder = f"{manager.outputs_dir}/{spec.pipeline}/{spec.run_id}"
    changes = {
        p.id: status_of(i, p.parameters["x"], f"{folder}/{p.id}.ipynb", now)
        for i, p in enumerate(spec.points)
    }
    manager.store.update_points(spec.run_id, changes)
    manager.store.update_run(spec.run_id, state="success")
    return spec.run_id


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.bigrun DB ROOT [FOLDER]``: the run into the store ``DB`` of a server
    whose root is ``ROOT`` (its notebook under ``FOLDER``); prints ``{"run_id", "notebook"}``.
    The Galata spec of the leaderboard and bench/lab_big_run.py call it."""
    import argparse
    import json
    from pathlib import Path

    from jupyter_mvdp.service.manager import RunManager
    from jupyter_mvdp.service.store import RunStore
    from jupyter_mvdp.targets import build_targets
    from tests.targets.test_local import write_notebook

    parser = argparse.ArgumentParser(prog="python -m tests.bigrun")
    parser.add_argument("db")
    parser.add_argument("root")
    parser.add_argument("folder", nargs="?", default="big-run")
    args = parser.parse_args(argv)
    root = Path(args.root)
    (root / args.folder).mkdir(parents=True, exist_ok=True)
    notebook = f"{args.folder}/tiny.ipynb"
    write_notebook(root / notebook)
    store = RunStore(args.db)
    try:
        manager = RunManager(store, build_targets({}), root_dir=root)
        run_id = write_big_run(manager, notebook)
    finally:
        store.close()
    print(json.dumps({"run_id": run_id, "notebook": notebook}))


if __name__ == "__main__":
    main()
