"""The data that crosses boundaries: plans, points, runs (the REST contract, mirrored in src/api.ts).

Plain dataclasses with ``to_json`` / ``from_json`` so the CLI, the REST API, the run store and
the DAG renderer all speak the same documents.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_args

from ..exceptions import InvalidPlan

PointState = Literal["queued", "running", "success", "failed", "skipped"]
# "unknown": the target has not answered for longer than the configured limit (the run may
# still be going there); it goes back to "running" as soon as a poll succeeds again.
# "orphaned": the process that hosted the run is gone and no live process has taken it over
# yet (its message says why); a Jupyter server on the same store resumes it, or cancel it.
RunState = Literal["queued", "running", "unknown", "orphaned", "success", "failed", "cancelled"]
POINT_STATES: tuple[str, ...] = get_args(PointState)
RUN_STATES: tuple[str, ...] = get_args(RunState)
FINISHED_POINT_STATES = frozenset({"success", "failed", "skipped"})
FINISHED_RUN_STATES = frozenset({"success", "failed", "cancelled"})
#: a run in one of these states has an owner that follows it (or had one that died)
ACTIVE_RUN_STATES = tuple(s for s in RUN_STATES if s not in FINISHED_RUN_STATES)


@dataclass(frozen=True)
class Parameter:
    """One parameter of the notebook's ``parameters`` cell (params.py reads it)."""

    name: str
    # the annotation as written ("int", "float | None", "Literal['a', 'b']", "list[int]"), else
    # the type of the literal default; "None" when unknown (any JSON value is accepted)
    type: str
    default: str  # the source text of the default, as written in the cell
    help: str = ""
    value: Any = None  # the default evaluated as a Python literal, when it is one
    choices: list | None = None  # the values of a Literal[...] annotation
    literal: bool = True  # False when the default is an expression (os.getcwd(), ...)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Strategy:
    kind: Literal["grid", "early_stop", "canary", "optimize", "ab"] = "grid"
    metric: str | None = None
    goal: Literal["max", "min"] = "max"
    target: float | None = None  # early_stop: stop once the best metric reaches it
    budget: int | None = None  # early_stop: at most this many points run
    seed: int = 0  # early_stop: the shuffle
    baseline: float | None = None  # canary: fixed metric to beat (else the last champion)
    tolerance: float = 0.0  # canary: how much worse than the baseline is still accepted
    deploy_notebook: str | None = None  # canary: run on deploy with the winning parameters
    sampler: str | None = None  # optimize: Optuna's sampler (runtime.OPTIMIZE_SAMPLERS; tpe)
    # ab (core/abtest.py): variants A (parameters, or "champion") and B, the replicate
    # parameter and how many replicates, the test's alpha, promote B when it is better
    a: dict | str | None = None
    b: dict | None = None
    replicate: str | None = None
    replicates: int | None = None
    alpha: float = 0.05
    promote: bool = False

    def to_json(self) -> dict:
        keys = {
            "grid": ("metric", "goal"),
            "early_stop": ("metric", "goal", "target", "budget", "seed"),
            "canary": ("metric", "goal", "baseline", "tolerance", "deploy_notebook"),
            "optimize": ("metric", "goal", "target", "budget", "seed", "sampler"),
            "ab": (
                *("metric", "goal", "a", "b", "replicate", "replicates", "alpha"),
                *("promote", "deploy_notebook"),
            ),
        }[self.kind]
        out: dict[str, Any] = {"kind": self.kind}
        for key in keys:
            value = getattr(self, key)
            if value is not None and not (key == "goal" and self.metric is None):
                out[key] = value
        return out


@dataclass(frozen=True)
class Executor:
    """Airflow placement of each point: ``queue`` (Celery), ``pool``, ``executor_config`` (K8s)."""

    queue: str | None = None
    pool: str | None = None
    executor_config: dict | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Notify:
    """One channel of the plan's ``notify``: who is told (``to`` for email), of which events
    (``on``), through which Airflow connection (by id: the credentials stay in Airflow).
    ``core/notify.py`` holds the rules; the DAG and the local target deliver."""

    channel: Literal["email", "slack", "webhook"]
    on: tuple[str, ...]
    to: tuple[str, ...] = ()  # email
    from_email: str | None = None  # email; else the connection's own from_email
    smtp_conn_id: str | None = None
    slack_webhook_conn_id: str | None = None
    http_conn_id: str | None = None
    endpoint: str | None = None  # webhook: the path after the connection's base URL

    @classmethod
    def from_json(cls, doc: dict) -> Notify:
        return cls(**{**doc, "on": tuple(doc["on"]), "to": tuple(doc.get("to", ()))})

    def to_json(self) -> dict:
        out: dict[str, Any] = {"channel": self.channel, "on": list(self.on)}
        if self.to:
            out["to"] = list(self.to)
        for key in ("from_email", "smtp_conn_id", "slack_webhook_conn_id", "http_conn_id"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.endpoint is not None:
            out["endpoint"] = self.endpoint
        return out


@dataclass(frozen=True)
class Plan:
    """What to run: a grid spec (see grid.py) and a strategy (see strategies.py)."""

    grid: dict[str, Any] = field(default_factory=dict)
    strategy: Strategy = field(default_factory=Strategy)
    parallelism: int | None = None
    timeout: float | None = None
    retries: int | None = None  # more tries of a failed point
    retry_delay: float | None = None  # seconds between two tries of a point
    kernel: str | None = None
    schedule: str | None = None
    executor: Executor = field(default_factory=Executor)
    warm_kernels: bool | None = None
    notify: tuple[Notify, ...] = ()
    #: files and folders the notebook reads, relative to it (paths or globs): they travel
    #: with the notebook to a remote target (service/paths.py checks them)
    files: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, doc: Any) -> Plan:
        """Validate ``doc`` against schema/plan.schema.json and build a Plan.

        Raises InvalidPlan with one entry per problem, each naming its field.
        """
        problems = sorted(_plan_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))
        if problems:
            errors = [_schema_error(e) for e in problems]
            first = errors[0]
            where = f"{first['field']}: " if first["field"] else ""
            raise InvalidPlan(f"Invalid plan: {where}{first['message']}", errors=errors)
        from . import schedules

        schedules.check(doc.get("schedule"))
        return cls(
            grid=dict(doc["grid"]),
            strategy=Strategy(**doc["strategy"]),
            parallelism=doc.get("parallelism"),
            timeout=doc.get("timeout"),
            retries=doc.get("retries"),
            retry_delay=doc.get("retry_delay"),
            kernel=doc.get("kernel"),
            schedule=doc.get("schedule"),
            executor=Executor(**doc.get("executor", {})),
            warm_kernels=doc.get("warm_kernels"),
            notify=tuple(Notify.from_json(n) for n in doc.get("notify", ())),
            files=tuple(doc.get("files", ())),
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {"grid": self.grid, "strategy": self.strategy.to_json()}
        keys = ("parallelism", "timeout", "retries", "retry_delay", "kernel", "schedule")
        for key in (*keys, "warm_kernels"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.executor.to_json():
            out["executor"] = self.executor.to_json()
        if self.notify:
            out["notify"] = [n.to_json() for n in self.notify]
        if self.files:
            out["files"] = list(self.files)
        return out


@cache
def plan_schema() -> dict:
    return json.loads(files("jupyter_mvdp.core").joinpath("plan.schema.json").read_text("utf-8"))


@cache
def _plan_validator():
    import jsonschema

    return jsonschema.Draft202012Validator(plan_schema())


def _schema_error(error) -> dict:
    path = ".".join(str(p) for p in error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(error.schema.get("properties", {}))
        message = f"unknown key {', '.join(map(repr, extra))} (allowed: {allowed})"
    elif error.validator == "oneOf" and path.startswith("strategy"):
        kind = error.instance.get("kind") if isinstance(error.instance, dict) else None
        message = _strategy_error(kind, error)
    elif error.validator == "oneOf" and path.startswith("notify."):
        message = _notify_error(error)
    elif error.validator == "oneOf" and path.startswith("grid."):
        message = (
            "expected a list of values, a range {start, stop, step}, "
            "{start, stop, num, log}, or one value"
        )
    return {"field": path, "message": message}


def _strategy_error(kind, error) -> str:
    kinds = _strategy_kinds()
    if kind not in kinds:
        return f"strategy kind must be one of {', '.join(kinds)} (got {kind!r})"
    sub = next(
        (c for c in error.context if c.schema_path and c.schema_path[0] == kinds.index(kind)), None
    )
    if sub is None:
        return error.message
    where = ".".join(str(p) for p in sub.absolute_path)
    if sub.validator == "additionalProperties":
        return _schema_error(sub)["message"]
    return f"{where + ': ' if where != 'strategy' else ''}{sub.message}"


@cache
def _strategy_kinds() -> tuple[str, ...]:
    """The strategy kinds, in the order of the schema's ``oneOf`` (``<kind>_strategy``)."""
    refs = plan_schema()["properties"]["strategy"]["oneOf"]
    return tuple(r["$ref"].rsplit("/", 1)[-1].removesuffix("_strategy") for r in refs)


def _notify_error(error) -> str:
    """The problem of one ``notify`` entry, judged against the schema of its channel."""
    channels = ("email", "slack", "webhook")
    channel = error.instance.get("channel") if isinstance(error.instance, dict) else None
    if channel not in channels:
        return f"channel must be one of {', '.join(channels)} (got {channel!r})"
    sub = next(
        (c for c in error.context if c.schema_path and c.schema_path[0] == channels.index(channel)),
        None,
    )
    if sub is None:
        return error.message
    if sub.validator in ("additionalProperties", "oneOf"):
        return _schema_error(sub)["message"]
    where = ".".join(str(p) for p in sub.relative_path)
    message = sub.message
    if sub.validator == "pattern":
        field = str(sub.relative_path[0]) if sub.relative_path else ""
        message = f"{sub.instance!r} is not " + (
            "an email address"
            if field in ("to", "from_email")
            else "a path without spaces"
            if field == "endpoint"
            else "an Airflow connection id (letters, digits, '_', '.', '-')"
        )
    return f"{where + ': ' if where else ''}{message}"


@dataclass(frozen=True)
class Point:
    """One grid point: a stable id derived from its values, and the values themselves."""

    id: str
    parameters: dict[str, Any]

    def to_json(self) -> dict:
        return {"id": self.id, "parameters": self.parameters}


@dataclass
class PointStatus:
    """What a target reports of one point."""

    state: PointState = "queued"
    metrics: dict[str, Any] = field(default_factory=dict)
    output: str | None = None  # where the executed notebook is (target-side path or URL)
    error: str | None = None
    started: float | None = None
    finished: float | None = None
    #: every try of the point so far, oldest first: ``{"try", "state", "error", "started",
    #: "finished"}`` (more than one when the plan has ``retries``)
    tries: list[dict[str, Any]] = field(default_factory=list)
    #: optimize: the parameters its round's ask decided (else the spec's point has them)
    parameters: dict[str, Any] | None = None

    def to_json(self) -> dict:
        doc = asdict(self)
        if doc["parameters"] is None:
            del doc["parameters"]
        return doc


@dataclass
class Snapshot:
    """One poll of a target: the run's state and every point's status."""

    state: RunState
    points: dict[str, PointStatus]
    outcome: Literal["deploy", "alert"] | None = None
    reason: str | None = None
    message: str | None = None  # a target-level error, e.g. the DAG run failed
    #: what the run says once, in its document's warnings (why its kernels were not warm)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunSpec:
    """Everything a target needs to productionize one run of a plan."""

    run_id: str
    pipeline: str  # DAG id / pipeline id; carries the user
    notebook: str  # absolute local path of the input notebook
    notebook_sha256: str
    plan: Plan
    points: list[Point]  # in the order the strategy runs them
    output_dir: str  # absolute local directory where this run's output notebooks land
    target: str = "local"
    champion: float | None = None  # canary: the metric to beat when the plan has no baseline
    dag_source: str | None = None
    kernel: str | None = None
    #: canary: the deploy notebook's absolute local path, checked by paths.PathResolver
    deploy_notebook: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # target-specific ids (dag_run_id, ...)
    #: the input notebook's path relative to the server root (what provenance names)
    notebook_path: str | None = None
    #: canary: the sha256 of the deploy notebook's bytes
    deploy_notebook_sha256: str | None = None
    #: optimize: the search space (core/optimize.py), built once at submit
    space: dict[str, Any] | None = None
    #: the plan's files, as read at submit: ``[{"path" (relative to the notebook's folder),
    #: "sha256", "size"}]``
    files: list[dict[str, Any]] = field(default_factory=list)
    #: the notebooks' bytes as read once at submit, by sha256: what is hashed is what runs and
    #: ships, also after a restart (the run store keeps them; never in the spec's JSON)
    snapshots: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def target_run_id(self) -> str:
        """The run's id on its target (Airflow's DAG run id): its own id, unless the target
        started it (a schedule, Airflow's UI or API) and the run was adopted (discover.py)."""
        return self.extra.get("dag_run_id") or self.run_id


@dataclass(frozen=True)
class ListedRun:
    """A run a target knows of a deployed pipeline, as listing the target shows it: perhaps
    one that was not started from here (the plan's schedule, Airflow's UI or API)."""

    pipeline: str
    target_run_id: str
    #: who or what started it: ``{"kind": "schedule" | "ui" | "api" | "cli" | "asset" |
    #: "backfill" | "operator" | "other", "user": name or None}``
    started_by: dict[str, Any]
    queued_at: float | None  # epoch seconds, when the target created it
    conf: dict[str, Any] = field(default_factory=dict)
