"""A stand-in for AirflowClient: answers calls from a table, records them."""

from __future__ import annotations

from types import SimpleNamespace

from jupyter_mvdp.core import contract
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan, RunSpec
from jupyter_mvdp.targets.airflow.client import ApiError


class FakeClient:
    """``answers``: method name -> a value, an exception, or a callable of the call's
    arguments; ``logs``: (task id, map index, try) -> the log's lines."""

    def __init__(self, answers: dict | None = None, logs: dict | None = None):
        self.answers = answers or {}
        self.logs = logs or {}
        self.calls: list[tuple] = []

    def call(self, api: str, method: str, *args, **kwargs):
        self.calls.append((method, args, kwargs))
        answer = self.answers[method]
        if isinstance(answer, Exception):
            raise answer
        return answer(*args, **kwargs) if callable(answer) else answer

    def server_now(self):
        return None  # Airflow's default run_after

    def get_json(self, path: str, params: dict):
        self.calls.append(("get_json", (path,), params))
        parts = path.split("/")
        task_id, try_number = parts[-3], int(parts[-1])
        key = (task_id, params["map_index"], try_number)
        if key not in self.logs:
            raise ApiError(404, "no log")
        return {"content": self.logs[key]}

    def methods(self) -> list[str]:
        return [c[0] for c in self.calls]


def not_found() -> ApiError:
    return ApiError(404, "not found")


def ti(task_id, map_index, state, try_number=1, start=None, end=None):
    return SimpleNamespace(
        task_id=task_id,
        map_index=map_index,
        state=state,
        try_number=try_number,
        start_date=start,
        end_date=end,
    )


def page(*tis):
    return SimpleNamespace(task_instances=list(tis), total_entries=len(tis))


def spec(strategy: dict, grid: dict, parallelism=None, run_id="r1") -> RunSpec:
    doc = {"grid": grid, "strategy": strategy}
    plan = Plan.from_json({**doc, "parallelism": parallelism} if parallelism else doc)
    return RunSpec(
        run_id=run_id,
        pipeline="mvdp_u_nb",
        notebook="/nb.ipynb",
        notebook_sha256="0" * 64,
        plan=plan,
        points=expand(plan.grid),
        output_dir="/out",
        dag_source="# dag",
    )


RUN_POINT = contract.TASKS["run_point"]
