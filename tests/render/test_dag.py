"""The DAG renderer: every strategy and option renders and compiles, user data is only JSON
inside string literals (the code is the same whatever the data), the tasks and their layout
are what the Airflow target expects, and the DAG's tasks (run here against fake Airflow
modules, importing the shipped rules module as Airflow does) hand the shared rules the points
that succeeded.

Importing the DAGs in Airflow's DagBag, and running them, is tests/integration's job."""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import math
import shutil
import sys
import types
from dataclasses import replace
from pathlib import Path

import nbformat
import pytest

from jupyter_mvdp.core import strategies
from jupyter_mvdp.core.contract import KEYS, TASKS, papermill_tasks
from jupyter_mvdp.core.grid import expand, point_id
from jupyter_mvdp.core.metrics import SCRAP_MIMETYPE
from jupyter_mvdp.core.models import Plan, Point
from jupyter_mvdp.render.dag import (
    _docstring,
    digest_of,
    render_dag,
    runtime_files,
    runtime_module,
)

task_layout = papermill_tasks
DECISION_TASK, DEPLOY_TASK, ALERT_TASK = TASKS["decide"], TASKS["deploy"], TASKS["alert"]
DECISION_KEY = KEYS["decision"]

STRATEGIES = {
    "grid": {"kind": "grid", "metric": "accuracy"},
    "early_stop": {
        "kind": "early_stop",
        "metric": "accuracy",
        "target": 0.8,
        "budget": 5,
        "seed": 1,
    },
    "canary": {"kind": "canary", "metric": "accuracy", "tolerance": 0.01},
}
K8S = {"pod_override": {"spec": {"containers": [{"name": "base", "image": "x:1"}]}}}
OPTIONS = {  # plan extras -> lines the papermill task(s) must then have
    "plain": ({}, []),
    "queue": ({"executor": {"queue": "ml"}}, ['queue=SETTINGS["executor"]["queue"]']),
    "pool": ({"executor": {"pool": "gpu"}}, ['pool=SETTINGS["executor"]["pool"]']),
    "executor_config": (
        {"executor": {"executor_config": K8S}},
        ['executor_config=executor_config(SETTINGS["executor"]["executor_config"])'],
    ),
    "schedule": ({"schedule": "@daily"}, []),
    "timeout": ({"timeout": 90}, ['execution_timeout=timedelta(seconds=SETTINGS["timeout"])']),
    "parallelism": ({"parallelism": 2}, ['max_active_tis_per_dagrun=SETTINGS["parallelism"]']),
    "retries": (
        {"retries": 2, "retry_delay": 30},
        ['retries=SETTINGS["retries"]', 'retry_delay=timedelta(seconds=SETTINGS["retry_delay"])'],
    ),
    "all": (
        {
            "executor": {"queue": "ml", "pool": "gpu", "executor_config": K8S},
            "schedule": "0 3 * * *",
            "timeout": 60,
            "parallelism": 3,
            "kernel": "python3",
        },
        ["queue=", "pool=", "executor_config=", "execution_timeout=", "kernel_name="],
    ),
}
NASTY_VALUES = [
    'it\'s "quoted"',
    "'''triple''' \"\"\"quotes\"\"\"",
    "back\\slash\\",
    "new\nline\r\n",
    "unicode: héllo 世界 🚀 \u2028",
    "{{ var.value.secret }}",
    "x'); import os; os.system('rm -rf /') #",
    '"""); import os #',
    None,
    True,
    1e-300,
    [[1, 2], {"nested": [None, True, "'''"]}],
    {"a": {"b": ["c", None]}},
]
NASTY_NAMES = ["x'); import os #", 'a"""b', "new\nline", "é世", "{{ name }}", "__import__"]


def make_plan(kind: str = "grid", grid=None, **extra) -> Plan:
    doc = {
        "grid": grid if grid is not None else {"a": [1, 2, 3], "b": ["x", "y"]},
        "strategy": STRATEGIES[kind],
    }
    return Plan.from_json({**doc, **extra})


def render(plan: Plan, **kwargs) -> tuple[str, list[Point]]:
    points = strategies.ordered(plan.strategy, expand(plan.grid))
    args = {
        "dag_id": "mvdp_u_nb_123456",
        "plan": plan,
        "points": points,
        "notebook": "/data/nb.ipynb",
        "outputs": "/data/out",
        "kernel": plan.kernel or "python3",
    }
    return render_dag(**{**args, **kwargs}), points


def data_literals(source: str) -> dict:
    """SETTINGS and VERSION (POINTS: its points) as the DAG loads them: the only json.loads
    calls on a literal, each on one plain string literal."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "json.loads":
            if isinstance(node.args[0], ast.Name | ast.Call | ast.Attribute):
                continue  # a version read from the store, not data of the file
            (arg,) = node.args
            assert isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            found[len(found)] = json.loads(arg.value)
    settings, version = found.values()
    return {"SETTINGS": settings, "VERSION": version, "POINTS": version["points"]}


def code_only(source: str) -> str:
    """The source's code with the data taken out: the module docstring and the JSON
    literals become empty strings. Two renders that differ only in data give the same."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        literal = (
            isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
        )
        if literal and ast.unparse(node.func) == "json.loads":
            node.args = [ast.Constant("")]
    assert isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Constant)
    tree.body[0].value = ast.Constant("")
    return ast.dump(tree)


def task_ids(source: str) -> set[str]:
    """The task ids the DAG defines, read from its AST: ``task_id=...`` arguments (of
    operators and ``.override``) and the mapped papermill tasks, evaluated with the file's
    SETTINGS for every round."""
    tree = ast.parse(source)
    settings = data_literals(source)["SETTINGS"]
    ids: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        names = [kw.value for kw in node.keywords if kw.arg == "task_id"]
        if ast.unparse(node.func) == "papermill_runs":
            names.append(node.args[0])
        for name in names:
            if isinstance(name, ast.Name):  # a parameter (papermill_runs' own task_id)
                continue
            expr = compile(ast.Expression(name), "<id>", "eval")
            per_round = any(isinstance(n, ast.Name) and n.id == "r" for n in ast.walk(name))
            for r in range(settings["rounds"]) if per_round else [0]:
                ids.add(eval(expr, {"TASKS": settings["tasks"], "r": r}))
    return ids


def mapped_tasks(source: str) -> list[str]:
    """Ids of the mapped papermill tasks, in order."""
    ids = task_ids(source)
    return sorted(
        (i for i in ids if i == "run_point" or i.startswith("run_round_")),
        key=lambda i: int(i.rsplit("_", 1)[1]) if i[-1].isdigit() else 0,
    )


# ---- structure ------------------------------------------------------------------------


EXPECTED_TASKS = {
    "grid": {"points", "run_point", "collect"},
    "early_stop": {"points", "run_round_0", "check_round_0"},
    "canary": {"points", "run_point", DECISION_TASK, DEPLOY_TASK, ALERT_TASK},
}


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("kind", STRATEGIES)
def test_every_strategy_and_option_renders_compiles_and_has_its_tasks(kind, option):
    extra, needles = OPTIONS[option]
    plan = make_plan(kind, **extra)
    source, points = render(plan)
    compile(source, "dag.py", "exec")
    assert "from airflow.sdk import" in source and "import airflow.models" not in source
    assert source.count(".partial(") == 1 and ".expand(point=points)" in source
    data = data_literals(source)
    assert data["POINTS"] == [p.to_json() for p in points]
    settings = data["SETTINGS"]
    assert settings["strategy"] == kind and settings["dag_id"] == "mvdp_u_nb_123456"
    assert settings["parallelism"] == (plan.parallelism or 16)
    assert settings["schedule"] == plan.schedule and settings["timeout"] == plan.timeout
    assert settings["executor"] == plan.executor.to_json()
    assert settings["kernel"] == (plan.kernel or "python3")
    for needle in needles:
        assert needle in source
    assert 'kernel_name=SETTINGS["kernel"]' in source  # never a DAG without a kernel
    assert (settings["retries"], settings["retry_delay"]) == (
        plan.retries or 0,
        plan.retry_delay or 0,
    )
    for absent in (
        "queue=",
        "pool=",
        "executor_config=",
        "execution_timeout=",
        "retries=",
    ):
        if not any(absent in n for n in needles):
            assert absent not in source, absent
    assert 'tags=["mvdp", SETTINGS["strategy"]]' in source and "catchup=False" in source
    assert 'else SETTINGS["schedule"]' in source and "doc_md=__doc__" in source
    assert "map_index_template=POINT_LABEL" in source
    ids = task_ids(source)
    assert EXPECTED_TASKS[kind] <= ids
    layout = task_layout(plan, len(points))
    assert [task for task, _ in layout] == mapped_tasks(source)
    rounds = strategies.rounds(plan.strategy, points, settings["parallelism"])
    assert [first for _, first in layout] == [
        sum(len(r) for r in rounds[:i]) for i in range(len(rounds))
    ]


@pytest.mark.parametrize(
    ("strategy", "n", "parallelism", "expected"),
    [
        ({"kind": "grid"}, 6, None, [("run_point", 0)]),
        ({"kind": "canary", "metric": "m"}, 1, 4, [("run_point", 0)]),
        (
            {"kind": "early_stop", "metric": "m", "target": 1, "budget": 5},
            9,
            2,
            [("run_round_0", 0), ("run_round_1", 2), ("run_round_2", 4)],
        ),
        (
            {"kind": "early_stop", "metric": "m", "target": 1},
            3,
            2,
            [("run_round_0", 0), ("run_round_1", 2)],
        ),
        (
            {"kind": "early_stop", "metric": "m", "target": 1},
            20,
            None,
            [("run_round_0", 0), ("run_round_1", 16)],
        ),
        (
            {"kind": "early_stop", "metric": "m", "target": 1, "budget": 50},
            4,
            8,
            [("run_round_0", 0)],
        ),
        ({"kind": "early_stop", "metric": "m", "target": 1}, 0, 2, []),
    ],
)
def test_task_layout(strategy, n, parallelism, expected):
    extra = {"parallelism": parallelism} if parallelism else {}
    plan = Plan.from_json({"grid": {}, "strategy": strategy, **extra})
    assert task_layout(plan, n) == expected
    points = [Point(f"p{i}", {"i": i}) for i in range(n)]
    source = render_dag(
        dag_id="d", plan=plan, points=points, notebook="/n.ipynb", outputs="/o", kernel="k"
    )
    compile(source, "dag.py", "exec")
    assert [t for t, _ in expected] == mapped_tasks(source)


@pytest.mark.parametrize("kind", STRATEGIES)
def test_task_ids_and_xcom_keys_come_from_the_contract_as_data(kind):
    source, _ = render(make_plan(kind))
    settings = data_literals(source)["SETTINGS"]
    assert (settings["tasks"], settings["keys"]) == (TASKS, KEYS)
    named = [
        (ast.unparse(node.func), kw.arg, kw.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg in ("task_id", "task_ids", "key")
    ]
    assert named  # every strategy names tasks or keys somewhere
    for call, arg, value in named:  # never a literal: a name from SETTINGS
        if all(isinstance(n, ast.Name | ast.List | ast.Load) for n in ast.walk(value)):
            continue  # a variable holding a name (a helper's parameter)
        assert "TASKS[" in ast.unparse(value) or "KEYS[" in ast.unparse(value), (call, arg)


# ---- data stays data ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", STRATEGIES)
@pytest.mark.parametrize("value", NASTY_VALUES, ids=range(len(NASTY_VALUES)))
def test_unusual_values_are_data_and_the_code_does_not_change(kind, value):
    plain, _ = render(make_plan(kind, grid={"weird": [1], "n": [1, 2]}))
    source, points = render(make_plan(kind, grid={"weird": [value], "n": [1, 2]}))
    compile(source, "dag.py", "exec")
    assert code_only(source) == code_only(plain)
    assert [p["parameters"]["weird"] for p in data_literals(source)["POINTS"]] == [value] * 2
    assert data_literals(source)["POINTS"] == [p.to_json() for p in points]


@pytest.mark.parametrize("name", NASTY_NAMES)
def test_unusual_parameter_names_are_data(name):
    plain, _ = render(make_plan("early_stop", grid={"plain": [1, 2]}))
    source, _ = render(make_plan("early_stop", grid={name: [1, 2]}))
    compile(source, "dag.py", "exec")
    assert code_only(source) == code_only(plain)
    assert [p["parameters"] for p in data_literals(source)["POINTS"]] == [{name: 2}, {name: 1}]


@pytest.mark.parametrize(
    "text", ['x"""; import os #', 'ends with a quote"', "\\", "a\x00b\x1b\u2029"]
)
def test_paths_metric_names_and_descriptions_are_data(text):
    plan = replace(make_plan("canary"), strategy=replace(make_plan("canary").strategy, metric=text))
    args = {
        "notebook": f"/data/{text}.ipynb",
        "outputs": f"s3://bucket/{text}",
        "description": text,
        "deploy_notebook": f"{text}.ipynb",
    }
    plain, _ = render(make_plan("canary"), deploy_notebook="d.ipynb")
    source, _ = render(plan, **args)
    compile(source, "dag.py", "exec")
    assert code_only(source) == code_only(plain)
    settings = data_literals(source)["SETTINGS"]
    assert settings["notebook"] == args["notebook"] and settings["metric"] == text
    assert settings["deploy_notebook"] == args["deploy_notebook"]
    assert settings["description"] == text
    assert f"{text}.ipynb" in ast.get_docstring(ast.parse(source), clean=False)


@pytest.mark.parametrize(
    "text",
    ["", '"', '""', '"""', '""""', "\\", '\\"', "a\nb", "\r\t\x00", "\ud800", "é世🚀", "x" * 3],
)
def test_docstring_literal_round_trips(text):
    literal = _docstring(text)
    assert literal.startswith('"""') and literal.endswith('"""')
    assert ast.literal_eval(literal) == text


def test_the_source_digest_names_the_file_exactly():
    """The digest in the docstring (the DAG's doc_md, which the Airflow target reads back)
    is that of the file with the digest blanked: the same plan gives the same file, and
    any change of the plan, even one value, gives another digest."""
    source, _ = render(make_plan("grid"))
    again, _ = render(make_plan("grid"))
    digest = digest_of(source)
    assert source == again and digest is not None and len(digest) == 16
    blank = source.replace(digest, "0" * 16)
    assert hashlib.sha256(blank.encode()).hexdigest()[:16] == digest
    assert digest in ast.get_docstring(ast.parse(source))
    other, _ = render(make_plan("grid", grid={"a": [1, 2, 4], "b": ["x", "y"]}))
    assert digest_of(other) not in (None, digest)
    assert digest_of("no digest here") is None and digest_of(None) is None


def test_a_large_grid_is_one_small_file():
    plan = Plan.from_json(
        {"grid": {"a": list(range(100)), "b": list(range(100))}, "strategy": {"kind": "grid"}}
    )
    source, points = render(plan)
    assert len(points) == 10_000
    assert source.count(".partial(") == 1 and len(source) < 700_000
    assert len(source.splitlines()) < 400  # the points are one line of JSON


def test_canary_baseline_champion_and_deploy_notebook():
    source, _ = render(make_plan("canary"), champion=0.77, deploy_notebook="/data/deploy.ipynb")
    settings = data_literals(source)["SETTINGS"]
    assert settings["baseline"] == 0.77 and settings["fixed_baseline"] is False
    assert settings["deploy_notebook"] == "/data/deploy.ipynb"
    assert 'deploy = DeployRun(\n        task_id=TASKS["deploy"]' in source
    assert "def deploy_new_model()" not in source
    fixed = Plan.from_json(
        {"grid": {}, "strategy": {"kind": "canary", "metric": "m", "baseline": 0.5}}
    )
    source, _ = render(fixed, champion=0.9)
    settings = data_literals(source)["SETTINGS"]
    assert settings["baseline"] == 0.5 and settings["fixed_baseline"] is True
    assert "def deploy_new_model()" in source  # no deploy notebook: a task that logs
    # the target names the location: the plan's own text never does
    from_plan = Plan.from_json(
        {"grid": {}, "strategy": {**STRATEGIES["canary"], "deploy_notebook": "../../etc/x.py"}}
    )
    source, _ = render(from_plan)
    assert data_literals(source)["SETTINGS"]["deploy_notebook"] is None
    source, _ = render(from_plan, deploy_notebook="s3://b/p.deploy.ipynb")
    assert data_literals(source)["SETTINGS"]["deploy_notebook"] == "s3://b/p.deploy.ipynb"


def test_a_canary_without_grid_runs_the_notebook_defaults_once():
    plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES["canary"]})
    for points in ([], expand({})):
        source = render_dag(
            dag_id="d", plan=plan, points=points, notebook="/n", outputs="/o", kernel="k"
        )
        assert data_literals(source)["POINTS"] == [{"id": point_id({}), "parameters": {}}]


# ---- the DAG decides as strategies.py does ----------------------------------------------------


class _Task:
    """@task, @task(...), @task.branch(...), @task.short_circuit(...): the plain function."""

    def __call__(self, fn=None, **kwargs):
        return fn if callable(fn) else (lambda f: f)

    def __getattr__(self, name):
        return self


class FakeTI:
    def __init__(self, run_id: str, states: dict[str, str]):
        self.dag_id, self.run_id, self.states, self.xcom = "d", run_id, states, {}

    def get_task_states(self, dag_id, task_ids, run_ids):
        prefix = f"{task_ids[0]}_"
        return {self.run_id: {k: v for k, v in self.states.items() if k.startswith(prefix)}}

    def xcom_push(self, key, value):
        self.xcom[(self.task_id, key)] = json.loads(json.dumps(value))

    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcom.get((task_ids, key))


class FakeVariable:
    """airflow.sdk.Variable over a dict (a canary DAG keeps its champion in one)."""

    values: dict = {}

    @classmethod
    def get(cls, key, default=None, deserialize_json=False):
        if key not in cls.values:
            return default
        return json.loads(cls.values[key]) if deserialize_json else cls.values[key]

    @classmethod
    def set(cls, key, value, description=None, serialize_json=False):
        cls.values[key] = json.dumps(value) if serialize_json else value


class FakePapermillOperator:
    """The stock operator's surface: keyword arguments become attributes; ``execute``
    records the notebook it would write."""

    template_fields = ()
    log = logging.getLogger("FakePapermillOperator")

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def execute(self, context):
        Path(self.output_nb).write_text("{}")
        return self.output_nb


@pytest.fixture
def load_dag(monkeypatch, tmp_path):
    """Import a rendered DAG against fake airflow modules, from a DAGs folder holding the
    shipped rules module (on sys.path, as Airflow puts it); returns (module, context)."""
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, content in runtime_files().items():
        (dags / name).write_bytes(content)
    monkeypatch.syspath_prepend(str(dags))
    monkeypatch.delitem(sys.modules, runtime_module()[0], raising=False)
    context: dict = {}
    sdk = types.ModuleType("airflow.sdk")
    sdk.dag = lambda **kwargs: lambda fn: lambda: None
    sdk.task = _Task()
    sdk.get_current_context = lambda: context
    sdk.Variable = type("Variable", (FakeVariable,), {"values": {}})
    papermill = types.ModuleType("airflow.providers.papermill.operators.papermill")
    papermill.PapermillOperator = FakePapermillOperator
    for name in ("airflow", "airflow.providers", "airflow.providers.papermill"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)
    monkeypatch.setitem(
        sys.modules, "airflow.providers.papermill.operators", types.ModuleType("operators")
    )
    monkeypatch.setitem(sys.modules, papermill.__name__, papermill)

    def load(source: str):
        module = types.ModuleType("rendered_dag")
        module.__file__ = str(dags / "rendered_dag.py")
        exec(compile(source, module.__file__, "exec"), module.__dict__)
        assert module.rules.__file__ == str(dags / f"{runtime_module()[0]}.py")
        return module, context

    return load


def executed(out: Path, run_id: str, point: Point, metrics: dict | None) -> None:
    """The output notebook papermill would leave, with ``metrics`` recorded as scraps."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("record(...)")
    for name, value in (metrics or {}).items():
        data = {SCRAP_MIMETYPE: {"name": name, "data": value, "encoder": "json", "version": 1}}
        cell.outputs.append(nbformat.v4.new_output("display_data", data=data))
    nb.cells.append(cell)
    (out / run_id).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out / run_id / f"{point.id}.ipynb")


def fake_run(tmp_path, load_dag, plan, results, conf_extra=None, champion=None):
    """Render, load, and lay out a run: ``results`` is, per ordered point, (metrics, ok)."""
    points = [Point(f"p-{i}", {"i": i}) for i in range(len(results))]
    source = render_dag(
        dag_id="d",
        plan=plan,
        points=points,
        notebook="/n.ipynb",
        outputs=str(tmp_path),
        champion=champion,
        kernel="python3",
    )
    module, context = load_dag(source)
    states = {}
    for (task, first), size in zip(
        task_layout(plan, len(points)),
        [len(r) for r in strategies.rounds(plan.strategy, points, plan.parallelism or 16)],
        strict=False,
    ):
        for i in range(size):
            metrics, ok = results[first + i]
            executed(tmp_path, "run-1", points[first + i], metrics)
            states[f"{task}_{i}"] = "success" if ok else "failed"
    ti = FakeTI("run-1", states)
    conf = dict(conf_extra or {})
    context.update(ti=ti, run_id="run-1", dag_run=types.SimpleNamespace(conf=conf))
    return module, ti, points


# The rules themselves are runtime.py's (one copy, tested in test_strategies / test_metrics);
# these cases check what the DAG's tasks hand them: only the points that succeeded, the
# baseline of the run's conf, the best carried from round to round.
CANARY_CASES = [  # (goal, baseline, champion, tolerance, [(value, ok), ...])
    ("max", None, 0.8, 0.05, [(0.74, True), (0.9, False)]),  # failed runs do not count
    ("min", None, 0.3, 0.0, [(None, True), (math.nan, True)]),  # no metric recorded
    ("max", None, 0.5, 0.0, [(0.9, False)]),
    ("max", 0.5, None, 0.0, [(0.6, True), (0.6, True)]),  # a tie: the earliest point
]


@pytest.mark.parametrize(("goal", "baseline", "champion", "tol", "results"), CANARY_CASES)
def test_canary_decides_as_strategies(tmp_path, load_dag, goal, baseline, champion, tol, results):
    strategy = {"kind": "canary", "metric": "m", "goal": goal, "tolerance": tol}
    if baseline is not None:
        strategy["baseline"] = baseline
    plan = Plan.from_json({"grid": {}, "strategy": strategy})
    runs = [({"m": v} if v is not None else {}, ok) for v, ok in results]
    # as the Airflow target triggers: conf baseline = plan baseline, else the champion
    conf = {"baseline": baseline if baseline is not None else champion}
    module, ti, points = fake_run(tmp_path, load_dag, plan, runs, conf, champion=champion)
    ti.task_id = DECISION_TASK
    branch = module.decide()
    top = strategies.best(
        ((p, m) for p, (m, ok) in zip(points, runs, strict=True) if ok), "m", goal
    )
    want = strategies.canary_decision(plan.strategy, top[1] if top else None, champion)
    got = ti.xcom[(DECISION_TASK, DECISION_KEY)]
    assert {k: got[k] for k in ("outcome", "reason", "value", "baseline")} == {
        "outcome": want.outcome,
        "reason": want.reason,
        "value": want.value,
        "baseline": want.baseline,
    }
    assert branch == (DEPLOY_TASK if want.outcome == "deploy" else ALERT_TASK)
    if top is not None:
        assert got["point_id"] == top[0].id and got["parameters"] == top[0].parameters
        assert ti.xcom[(DECISION_TASK, "parameters")] == top[0].parameters


def test_canary_without_conf_uses_the_embedded_baseline(tmp_path, load_dag):
    plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES["canary"]})
    module, ti, _ = fake_run(tmp_path, load_dag, plan, [({"accuracy": 0.5}, True)], champion=0.6)
    ti.task_id = DECISION_TASK
    assert module.decide() == ALERT_TASK
    assert ti.xcom[(DECISION_TASK, DECISION_KEY)]["baseline"] == 0.6


EARLY_STOP_CASES = [  # (goal, target, budget, parallelism, [(value, ok), ...] in run order)
    ("max", 0.8, None, 2, [(0.1, True), (0.95, False), (0.3, True), (0.2, True), (0.5, True)]),
    ("min", 0.2, 4, 1, [(None, True), (0.5, False), (0.25, True), (0.21, True), (0.1, True)]),
]


@pytest.mark.parametrize(("goal", "target", "budget", "size", "results"), EARLY_STOP_CASES)
def test_early_stop_decides_as_strategies(tmp_path, load_dag, goal, target, budget, size, results):
    strategy = {"kind": "early_stop", "metric": "m", "goal": goal, "target": target}
    if budget is not None:
        strategy["budget"] = budget
    plan = Plan.from_json({"grid": {}, "strategy": strategy, "parallelism": size})
    runs = [({"m": v} if v is not None else {}, ok) for v, ok in results]
    module, ti, points = fake_run(tmp_path, load_dag, plan, runs)
    # the local runner's loop
    want_rounds, ran, ok_metrics = 0, 0, []
    for batch in strategies.rounds(plan.strategy, points, size):
        want_rounds, ran = want_rounds + 1, ran + len(batch)
        ok_metrics += [runs[points.index(p)][0] for p in batch if runs[points.index(p)][1]]
        stop, reason = strategies.should_stop(plan.strategy, ok_metrics, ran, len(points))
        if stop:
            break
    # the DAG's: check_round_<r> after each round, until one returns a false value
    layout = task_layout(plan, len(points))
    for r in range(len(layout)):
        ti.task_id = f"check_round_{r}"
        next_round = module.check_round(r)
        decision = ti.xcom[(ti.task_id, DECISION_KEY)]
        if not next_round:
            break
        first = layout[r + 1][1]
        assert next_round == [p.id for p in points[first : first + size]][: len(next_round)]
    assert r + 1 == want_rounds
    assert decision["stop"] and decision["reason"] == reason and decision["ran"] == ran
    top = strategies.best(
        ((p.id, m) for p, (m, ok) in zip(points[:ran], runs, strict=False) if ok), "m", goal
    )
    assert (decision["best"], decision["value"]) == (top if top else (None, None))


def test_grid_collect_ranks_the_points_that_ran_to_the_end(tmp_path, load_dag):
    plan = Plan.from_json({"grid": {}, "strategy": {"kind": "grid", "metric": "m", "goal": "min"}})
    runs = [({"m": 0.3}, True), ({"m": 0.1}, False), ({"m": 0.2}, True), ({"m": 0.2}, True)]
    module, _, points = fake_run(tmp_path, load_dag, plan, runs)
    result = module.collect()
    assert result == {"best": points[2].id, "value": 0.2, "parameters": points[2].parameters}


@pytest.mark.parametrize("kind", ["grid", "early_stop", "canary"])
def test_a_run_maps_the_points_of_its_version_and_each_point_runs_its_parameters(
    tmp_path, load_dag, monkeypatch, kind
):
    """The run's first task (points) picks its version (this file's when its conf names
    none), pushes its digest and returns the ids the first mapped task maps (the first
    round's for early stop); each point runs that version's notebook with its own
    parameters; a point the version does not have fails, never runs another one."""
    plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES[kind], "parallelism": 2})
    module, ti, points = fake_run(tmp_path / "outs", load_dag, plan, [({}, True)] * 3)
    assert [p.to_json() for p in points] == module.POINTS
    ti.task_id = TASKS["points"]
    ids = module.points()
    assert ids == [p.id for p in (points[:2] if kind == "early_stop" else points)]
    assert ti.xcom[(TASKS["points"], KEYS["version"])] == module.SETTINGS["version"]
    if kind == "early_stop":
        assert module.round_of(module.VERSION, 1) == [points[2].id]
    ran = []
    monkeypatch.setattr(
        module, "run_notebook", lambda ctx, v, nb, pid, params, log: ran.append((nb, pid, params))
    )
    context = module.get_current_context()
    module.NotebookRun(point=points[1].id).execute(context)
    assert ran == [(module.VERSION["notebook"], points[1].id, points[1].parameters)]
    with pytest.raises(ValueError, match="p-gone is not a point of this run"):
        module.NotebookRun(point="p-gone").execute(context)


def test_a_run_keeps_its_version_after_a_redeploy(tmp_path, load_dag, monkeypatch):
    """A DAG file re-deployed with another grid while a run is in flight: the run (whose
    conf names its version, kept in the store) maps and runs its own points with their own
    parameters; a run whose conf names none runs the new file's; a version name that is
    not a digest is refused (it becomes a path in the store)."""
    store = tmp_path / "store"
    first_plan = Plan.from_json({"grid": {"a": [1, 2, 3]}, "strategy": STRATEGIES["grid"]})
    first, first_points = render(first_plan, store=str(store))
    version = data_literals(first)["VERSION"]
    digest = data_literals(first)["SETTINGS"]["version"]
    kept = store / "versions" / "mvdp_u_nb_123456" / f"{digest}.json"
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps(version))
    second, second_points = render(
        Plan.from_json({"grid": {"a": [7, 8]}, "strategy": STRATEGIES["grid"]}), store=str(store)
    )
    module, context = load_dag(second)
    assert digest != module.SETTINGS["version"]

    def start(conf: dict) -> list[str]:
        ti = FakeTI("run-1", {})
        ti.task_id = TASKS["points"]
        context.update(ti=ti, run_id="run-1", dag_run=types.SimpleNamespace(conf=conf))
        return module.points()

    assert start({"version": digest}) == [p.id for p in first_points]
    ran = []
    monkeypatch.setattr(
        module, "run_notebook", lambda ctx, v, nb, pid, params, log: ran.append((pid, params))
    )
    module.NotebookRun(point=first_points[0].id).execute(context)
    assert ran == [(first_points[0].id, first_points[0].parameters)]
    with pytest.raises(ValueError, match="is not a point of this run"):
        module.NotebookRun(point=second_points[0].id).execute(context)
    assert start({}) == [p.id for p in second_points]
    for name in ("../../../etc/passwd", "0123"):
        with pytest.raises(ValueError, match="has no version"):
            start({"version": name})


def test_a_version_whose_rules_are_gone_loads_them_from_the_store(tmp_path, load_dag):
    """The runtime module a run's version names, when no longer next to the DAG (a bundle
    replaced by a later deploy), is loaded from the store's copy, checked by its sha256."""
    store = tmp_path / "store"
    source, _ = render(make_plan("grid"), store=str(store))
    module, _ = load_dag(source)
    code = b"def best(*args):\n    return 'old rules'\n"
    digest = hashlib.sha256(code).hexdigest()
    (store / "objects").mkdir(parents=True)
    (store / "objects" / digest).write_bytes(code)
    old = {**module.VERSION, "runtime": {"module": "mvdp_runtime_000000000000", "sha256": digest}}
    try:
        assert module.rules_of(old).best() == "old rules"
        del sys.modules["mvdp_runtime_000000000000"]
        (store / "objects" / digest).write_bytes(code + b"# changed\n")
        with pytest.raises(RuntimeError, match="not the one deployed"):
            module.rules_of(old)
    finally:
        sys.modules.pop("mvdp_runtime_000000000000", None)
    assert module.rules_of(module.VERSION) is module.rules


@pytest.mark.parametrize(
    ("errors", "raised"),
    [
        (["Kernel died before replying to kernel_info"] * 2, None),
        (["Kernel died before replying to kernel_info"] * 3, "Kernel died"),
        (["Kernel didn't respond in 60 seconds"], "respond"),
    ],
)
def test_a_point_starts_another_kernel_when_one_died_starting(
    tmp_path, load_dag, monkeypatch, errors, raised
):
    """A kernel that died while starting ran no cell: the task starts another (up to 3 kernels
    in all) within its try; any other error, or a third death, fails the try. Each try runs
    the version's notebook (where it is: this DAG has no store) into its run's folder."""
    plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES["grid"]})
    module, ti, points = fake_run(tmp_path / "outs", load_dag, plan, [({}, True)])
    calls = []

    def execute(papermill, nbformat, path, output, **kwargs):
        calls.append((path, kwargs["parameters"], kwargs["cwd"]))
        if len(calls) <= len(errors):
            raise RuntimeError(errors[len(calls) - 1])
        Path(output).write_text("{}")

    monkeypatch.setattr(module.rules, "execute_notebook", execute)
    shutil.rmtree(tmp_path / "outs")
    op = module.NotebookRun(point=points[0].id)
    context = {"ti": ti, "run_id": "r"}
    if raised:
        with pytest.raises(RuntimeError, match=raised):
            op.execute(context)
        assert len(calls) == min(len(errors), 3)
    else:
        op.execute(context)
        assert (tmp_path / "outs" / "r" / f"{points[0].id}.ipynb").is_file()
        assert calls == [("/n.ipynb", points[0].parameters, "/")] * 3


# ---- the DAG's champion and notices --------------------------------------------------------


def test_a_run_without_conf_compares_with_the_champion_the_pipelines_runs_crowned(
    tmp_path, load_dag
):
    """A scheduled run has no one to pass it the champion: the DAG keeps the one its runs
    crowned last (an Airflow Variable) and the next run compares with it."""
    plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES["canary"]})
    first, ti, _ = fake_run(tmp_path, load_dag, plan, [({"accuracy": 0.8}, True)], champion=0.5)
    ti.task_id = DECISION_TASK
    assert first.decide() == DEPLOY_TASK
    again, ti, _ = fake_run(tmp_path, load_dag, plan, [({"accuracy": 0.7}, True)], champion=0.5)
    ti.task_id = DECISION_TASK
    assert again.decide() == ALERT_TASK
    assert ti.xcom[(DECISION_TASK, DECISION_KEY)]["baseline"] == 0.8
    fixed = Plan.from_json({"grid": {}, "strategy": {**STRATEGIES["canary"], "baseline": 0.6}})
    plain, ti, _ = fake_run(tmp_path, load_dag, fixed, [({"accuracy": 0.7}, True)])
    ti.task_id = DECISION_TASK
    assert plain.decide() == DEPLOY_TASK  # the plan's own baseline is never replaced


def fake_notifiers(monkeypatch) -> list[tuple[str, dict]]:
    """The providers' notifiers: each records its keyword arguments when it notifies."""
    sent: list[tuple[str, dict]] = []
    for module, name in (
        ("airflow.providers.smtp.notifications.smtp", "SmtpNotifier"),
        ("airflow.providers.slack.notifications.slack_webhook", "SlackWebhookNotifier"),
        ("airflow.providers.http.notifications.http", "HttpNotifier"),
    ):
        cls = type(
            name,
            (),
            {
                "__init__": lambda self, **kwargs: setattr(self, "kwargs", kwargs),
                "notify": lambda self, context, name=name: sent.append((name, self.kwargs)),
            },
        )
        fake = types.ModuleType(module)
        setattr(fake, name, cls)
        monkeypatch.setitem(sys.modules, module, fake)
    return sent


def test_the_dag_tells_each_channel_the_runtime_notice_through_its_providers_notifier(
    tmp_path, load_dag, monkeypatch
):
    from jupyter_mvdp.core.runtime import notice, notice_html

    sent = fake_notifiers(monkeypatch)
    channels = [
        {
            "channel": "email",
            "on": ["canary_alert", "run_failed"],
            "to": ["ops@example.com"],
            "smtp_conn_id": "mail",
        },
        {"channel": "slack", "on": ["canary_alert"]},
        {"channel": "webhook", "on": ["canary_alert"], "http_conn_id": "hook", "endpoint": "/h"},
    ]
    strategy = {"kind": "canary", "metric": "m", "baseline": 0.9}
    plan = Plan.from_json({"grid": {}, "strategy": strategy, "notify": channels})
    module, ti, points = fake_run(
        tmp_path, load_dag, plan, [({"m": 0.5}, True), ({"m": 0.7}, False)]
    )
    ti.task_id = DECISION_TASK
    assert module.decide() == ALERT_TASK
    module.Notify(module.EVENTS["alert"])(module.get_current_context())  # the alert's callback

    best = {"id": points[0].id, "parameters": points[0].parameters, "value": 0.5}
    reason = ti.xcom[(DECISION_TASK, DECISION_KEY)]["reason"]
    want = notice(
        "canary_alert", "d", "run-1", metric="m", best=best, reason=reason, outcome="alert"
    )
    assert [name for name, _ in sent] == ["SmtpNotifier", "SlackWebhookNotifier", "HttpNotifier"]
    assert sent[0][1] == {
        "to": ["ops@example.com"],
        "from_email": None,
        "subject": want["subject"],
        "html_content": notice_html(want),
        "smtp_conn_id": "mail",
    }
    assert sent[1][1] == {"slack_webhook_conn_id": "slack_default", "text": want["text"]}
    assert sent[2][1] == {"http_conn_id": "hook", "endpoint": "/h", "json": want}

    sent.clear()  # the run's end (the DAG's success callback): a point failed
    module.Notify()(module.get_current_context())
    assert [name for name, _ in sent] == ["SmtpNotifier"]
    mail = sent[0][1]
    assert mail["subject"] == "[jupyter-mvdp] run run-1 of d failed"
    assert "Reason: 1 of 2 points failed" in mail["html_content"]


def test_a_plan_without_notify_has_no_notifier_and_its_channels_are_data():
    plain = Plan.from_json({"grid": {}, "strategy": STRATEGIES["canary"]})
    source = render_dag(dag_id="d", plan=plain, points=[], notebook="/n", outputs="/o", kernel="k")
    assert "Notify" not in source and "callback" not in source

    def rendered(to: str, endpoint: str, on: list) -> str:
        channels = [
            {"channel": "email", "on": on, "to": [to]},
            {"channel": "webhook", "on": on, "endpoint": endpoint},
        ]
        plan = Plan.from_json({"grid": {}, "strategy": STRATEGIES["canary"], "notify": channels})
        return render_dag(dag_id="d", plan=plan, points=[], notebook="/n", outputs="/o", kernel="k")

    alerts = rendered("ops@example.com", "/h", ["canary_alert"])
    odd = rendered("{{var.value.x}}'@x", '/{{conn.x.password}}"""\')', ["canary_alert"])
    assert code_only(alerts) == code_only(odd)
    assert data_literals(odd)["SETTINGS"]["notify"][0]["to"] == ["{{var.value.x}}'@x"]
    assert 'on_success_callback=Notify(EVENTS["alert"])' in alerts
    assert "on_failure_callback" not in alerts  # nobody listens to the run's end
    ends = rendered("ops@example.com", "/h", ["run_failed"])
    assert "on_failure_callback=Notify(failed=True)" in ends
    assert "on_success_callback=Notify()" in ends
