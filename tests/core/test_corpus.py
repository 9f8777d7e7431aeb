"""Real-world notebooks, one row each: the parameters found and what a run of them gives.

Two corpora: tests/notebooks/ (written for this by make_corpus.py: annotations, comments,
magics, scrap kinds, injected cells, nbformat versions, kernelspecs, failures after a metric)
and papermill's own test notebooks, shipped inside the installed papermill package. Each row
names the parameters (name -> type) or the one-line error, then the run: a plan, and what the
run document must say (state, metrics, error, best, warnings), or the one-line refusal.

The runs are real (local target, real kernels, a real bash kernel) and shared: every row's
run starts in one fixture, a few at a time, and the rows check their own document.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import papermill
import pytest

from jupyter_mvdp.core import params
from jupyter_mvdp.core.models import FINISHED_RUN_STATES
from jupyter_mvdp.exceptions import MvdpError
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets

CORPUS = Path(__file__).resolve().parents[1] / "notebooks"
PAPERMILL = Path(papermill.__file__).resolve().parent / "tests" / "notebooks"
NO_CELL = "has no parameters cell"
AT_ONCE = 4  # runs in flight together (each is one or two small kernels)


@dataclass
class Row:
    params: dict[str, str] | str  # name -> type, in the cell's order; or the one-line error
    grid: dict = field(default_factory=dict)
    strategy: dict = field(default_factory=lambda: {"kind": "grid"})
    plan: dict = field(default_factory=dict)  # plan extras: kernel, timeout
    run: dict | str | None = None  # expected run fields, or the refusal; None: not run
    choices: dict = field(default_factory=dict)  # name -> Literal choices
    check: dict = field(default_factory=dict)  # name -> (default, help, literal)


def ok(**metrics) -> dict:
    return {"state": "success", "metrics": metrics}


ROWS: dict[str, Row] = {
    # --- parameters papermill's line parser drops or cuts ---------------------------------
    "union.ipynb": Row({"u": "float | int"}, {"u": [2]}, run=ok(u=2)),
    "optional.ipynb": Row(
        {"t": "typing.Optional[int]"},
        {"t": [None, 3]},
        run={"state": "success", "points": {"t=None": {"t": None}, "t=3": {"t": 3}}},
    ),
    "pep604_none.ipynb": Row({"z": "int | None"}, {"z": [7]}, run=ok(z=7)),
    "literal.ipynb": Row(
        {"mode": 'Literal["fast", "slow"]'},
        {"mode": ["slow"]},
        run=ok(mode="slow"),
        choices={"mode": ["fast", "slow"]},
        check={"mode": ('"fast"', "speed", True)},
    ),
    "literal_bad_choice.ipynb": Row(
        {"mode": 'Literal["fast", "slow"]'},
        {"mode": ["medium"]},
        run="""mode is a Literal["fast", "slow"] parameter; got 'medium' (choices: 'fast', 'slow')""",
        choices={"mode": ["fast", "slow"]},
    ),
    "hash_in_string.ipynb": Row(
        {"color": "str"},
        run=ok(color="#ff0000"),
        check={"color": ("'#ff0000'", "a color, not a comment", True)},
    ),
    "equals_in_string.ipynb": Row(
        {"url": "str", "sep": "str"},
        {"url": ["https://y.org/?b=2"]},
        run=ok(url="https://y.org/?b=2"),
        check={"sep": ('"=="', "a == b", True)},
    ),
    "multiline_default.ipynb": Row(
        {"layers": "list"},
        {"layers": [[1, 2, 3]]},
        run=ok(n=3),
        check={"layers": ("[\n    8,\n    4,\n]", "layer sizes", True)},
    ),
    "typed_list.ipynb": Row({"xs": "list[int]"}, {"xs": [[1, 2, 3]]}, run=ok(total=6)),
    "typed_list_bad.ipynb": Row(
        {"names": "List[str]"},
        {"names": [["x", 3]]},
        run="names is a List[str] parameter; got ['x', 3]",
    ),
    "typed_dict.ipynb": Row(
        {"weights": "dict[str, float]"},
        {"weights": [{"a": 2}]},
        run=ok(a=2.0, is_float=True),  # the int went in as a float, as the annotation says
    ),
    "bool_param.ipynb": Row({"flag": "bool"}, {"flag": [1]}, run="flag is a bool parameter; got 1"),
    "computed_default.ipynb": Row(
        {"data_dir": "None"},
        run=ok(data_dir="data/raw"),
        check={"data_dir": ("os.path.join('data', 'raw')", "where the data is", False)},
    ),
    "magics_in_params.ipynb": Row({"n": "int"}, {"n": [5]}, run=ok(n=5)),
    "type_comment.ipynb": Row(
        {"b": "List[str]"},
        {"b": [["x"]]},
        run=ok(b=["x"]),
        check={"b": ("['Hello', 'World']", "Nice list", True)},
    ),
    # --- errors, each named with the prompt its output notebook shows (In [n]) ------------
    "line_magic_error.ipynb": Row(
        {"x": "int"},
        run={
            "state": "failed",
            "error": "In [2]: UsageError: Line magic function `%not_a_magic_at_all` not found.",
        },
    ),
    "sysexit_after_metric.ipynb": Row(
        {"x": "int"},
        strategy={"kind": "grid", "metric": "acc"},
        run={"state": "failed", "error": "In [3]: SystemExit: 3", "metrics": {"acc": 0.9}},
    ),
    "failure_after_metric.ipynb": Row(
        {"fail": "bool"},
        {"fail": [False, True]},
        strategy={"kind": "grid", "metric": "acc"},
        run={
            "state": "failed",
            "best": {"fail": False},  # the failed point recorded more, and is not ranked
            "points": {"fail=True": {"acc": 0.9}, "fail=False": {"acc": 0.5}},
            "error": "In [4]: AssertionError: broke after recording",
        },
    ),
    "kernel_death.ipynb": Row(
        {"x": "int"}, run={"state": "failed", "error": "DeadKernelError: Kernel died"}
    ),
    "timeout.ipynb": Row(
        {"x": "int"},
        plan={"timeout": 2},
        run={
            "state": "failed",
            "error": "TimeoutError: the point ran longer than the plan's timeout of 2 s",
        },
    ),
    "metric_missing.ipynb": Row(
        {"x": "int"},
        strategy={"kind": "grid", "metric": "acc"},
        run={
            "state": "success",
            "metrics": {"accuracy": 1},
            "warning": "No point recorded the metric 'acc' as a number (recorded: accuracy)",
        },
    ),
    # --- every scrap kind is a metric -------------------------------------------------------
    "scrap_kinds.ipynb": Row(
        {"x": "int"},
        strategy={"kind": "grid", "metric": "shown"},
        run={
            **ok(
                message="Hi",
                n=3,
                f=0.25,
                xs=[1, 2],
                d={"k": "v"},
                np=0.5,
                shown=0.75,
                df="<pandas scrap>",
            ),
            "best": {},
        },
    ),
    "papermill_record.ipynb": Row({"x": "int"}, run=ok(legacy=1)),
    # --- injected cells: what ran is what the run says --------------------------------------
    "injected_stale.ipynb": Row({"x": "int"}, run=ok(x=1)),
    "canary_stale.ipynb": Row(
        {"x": "int"},
        strategy={"kind": "canary", "metric": "x"},
        run={**ok(x=1), "outcome": "deploy"},
    ),
    # --- nbformat versions ------------------------------------------------------------------
    "nbformat3.ipynb": Row({"x": "int"}, {"x": [5]}, run=ok(x=5)),
    "nbformat_4_0.ipynb": Row({"x": "int"}, run=ok(x=4)),
    "nbformat_4_4.ipynb": Row({"x": "int"}, run=ok(x=4)),
    "cells_not_a_list.ipynb": Row(
        "cells_not_a_list.ipynb is not a Jupyter notebook", run="is not a Jupyter notebook"
    ),
    "plain_text.ipynb": Row(
        "plain_text.ipynb is not a Jupyter notebook", run="is not a Jupyter notebook"
    ),
    # --- kernelspecs ------------------------------------------------------------------------
    "no_kernelspec.ipynb": Row(
        {"x": "int"},
        run='no_kernelspec.ipynb names no kernel (its metadata has no kernelspec): set "kernel" in the plan',
    ),
    "no_kernelspec_plan_kernel.ipynb": Row({"x": "int"}, plan={"kernel": "python3"}, run=ok(x=1)),
    "bash.ipynb": Row(
        {},  # papermill cannot read bash parameters: any name goes, unchecked
        {"greeting": ["bonjour"]},
        run={"state": "success", "metrics": {}, "stdout": "bonjour from bash"},
    ),
    "unknown_language.ipynb": Row(
        "papermill cannot inject parameters into a cobol notebook",
        run="papermill cannot inject parameters into a cobol notebook",
    ),
    # --- what the user must fix -------------------------------------------------------------
    "no_parameters_cell.ipynb": Row(NO_CELL, run=NO_CELL),
    "two_parameters_cells.ipynb": Row(
        "Cells 0, 1 are all tagged 'parameters'", run="Cells 0, 1 are all tagged 'parameters'"
    ),
    "unknown_parameter.ipynb": Row(
        {"x": "int"},
        {"nope": [1]},
        run="Unknown parameter 'nope'; the notebook's parameters are: x",
    ),
}

PAPERMILL_ROWS: dict[str, Row] = {
    **{
        name: Row(NO_CELL, run=NO_CELL)
        for name in (
            "binder.ipynb",
            "blank-vscode.ipynb",
            "broken.ipynb",
            "broken1.ipynb",
            "broken2.ipynb",
            "keyboard_interrupt.ipynb",
            "line_magic_error.ipynb",
            "no_parameters.ipynb",
            "read_check.ipynb",
            "sysexit.ipynb",
            "sysexit0.ipynb",
            "sysexit1.ipynb",
            "systemexit.ipynb",
            "test_autosave.ipynb",
            "test_logging.ipynb",
            "test_notebooknode_io.ipynb",
        )
    },
    # a cell Python cannot parse (a line "= 2"): papermill's line parser reads what it can,
    # and the run fails in that very cell, saying why
    "complex_parameters.ipynb": Row(
        {"msg": "None", "a": "float", "b": "List[str]", "c": "NoneType"},
        {"a": [3.5]},
        run={"state": "failed", "error": "In [1]: SyntaxError: invalid syntax"},
        check={"a": ("2.25", "Variable a", True)},
    ),
    "nb_version_4.4.ipynb": Row({"var": "int"}, {"var": [2]}, run=ok()),
    "report_mode_test.ipynb": Row({"a": "int", "b": "int"}, {"a": [2]}, run=ok()),
    "result_no_exec.ipynb": Row({"foo": "int", "bar": "str"}, run=ok()),
    "simple_execute.ipynb": Row(
        {"msg": "None"}, {"msg": ["Hello"]}, run={**ok(), "stdout": "Hello"}
    ),
    # an R notebook: papermill injects into R but cannot read its parameters; no R kernel here
    "notimplemented_translator.ipynb": Row(
        {},
        {"msg": ["x"]},
        plan={"kernel": "ir"},
        run={"state": "failed", "error": "NoSuchKernel: no kernel named 'ir' on this machine"},
    ),
}
ALL = {
    **{f"corpus/{k}": v for k, v in ROWS.items()},
    **{f"papermill/{k}": v for k, v in PAPERMILL_ROWS.items()},
}


def test_the_corpora_are_complete():
    """Every notebook of both corpora has its row (a new notebook needs one)."""
    assert {p.name for p in CORPUS.glob("*.ipynb")} == set(ROWS)
    assert {p.name for p in PAPERMILL.glob("*.ipynb")} == set(PAPERMILL_ROWS)
    assert len(ROWS) >= 30


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(CORPUS, root / "corpus", ignore=shutil.ignore_patterns("*.py"))
    shutil.copytree(PAPERMILL, root / "papermill", ignore=shutil.ignore_patterns("*.py"))
    return root


@pytest.fixture(scope="module")
def runs(workspace, bash_kernel) -> dict[str, Any]:
    """Every row's run, a few at a time: its document, or the refusal's message."""
    store = RunStore(workspace / "runs.sqlite")
    manager = RunManager(
        store,
        build_targets({"local": {"kind": "local", "parallelism": 2}}),
        root_dir=workspace,
        user="corpus",
    )
    results: dict[str, Any] = {}
    todo = [(name, row) for name, row in ALL.items() if row.run is not None]
    running: dict[str, str] = {}
    while todo or running:  # a sliding window: a new run starts as soon as one ends
        while todo and len(running) < AT_ONCE:
            name, row = todo.pop(0)
            plan = {"grid": row.grid, "strategy": row.strategy, **row.plan}
            try:
                running[name] = manager.submit(name, plan, "local", background=False)
            except MvdpError as e:
                results[name] = e.message
        for name, run_id in list(running.items()):
            manager.sync(run_id)
            if store.run_state(run_id)["state"] in FINISHED_RUN_STATES:
                results[name] = manager.document(run_id)
                del running[name]
        time.sleep(0.1)
    yield results
    store.close()


@pytest.mark.parametrize("name", ALL)
def test_parameters_found(workspace, name):
    row = ALL[name]
    if isinstance(row.params, str):
        with pytest.raises(MvdpError) as caught:
            params.inspect(params.read_notebook(workspace / name))
        assert row.params in caught.value.message and "\n" not in caught.value.message
        return
    found = params.inspect(params.read_notebook(workspace / name))
    assert {p.name: p.type for p in found.parameters} == row.params
    assert [p.name for p in found.parameters] == list(row.params)
    assert found.checked == bool(row.params)  # only unreadable kernels give no names
    for p in found.parameters:
        assert p.choices == row.choices.get(p.name)
        if p.name in row.check:
            assert (p.default, p.help, p.literal) == row.check[p.name]


@pytest.mark.parametrize("name", [n for n, r in ALL.items() if r.run is not None])
def test_run(runs, workspace, name):
    want, got = ALL[name].run, runs[name]
    if isinstance(want, str):  # refused before anything ran, in one line
        assert isinstance(got, str), f"expected the refusal {want!r}, the run went on"
        assert want in got and "\n" not in got
        return
    assert isinstance(got, dict), f"refused: {got}"
    assert got["state"] == want["state"], [p["error"] for p in got["points"]]
    points = got["points"]
    if "metrics" in want:
        assert [p["metrics"] for p in points] == [want["metrics"]]
    if "points" in want:
        by_values = {
            ",".join(f"{k}={v}" for k, v in p["parameters"].items()): p["metrics"] for p in points
        }
        assert by_values == want["points"]
    if "error" in want:
        errors = [p["error"] for p in points if p["error"]]
        assert len(errors) == 1 and errors[0].startswith(want["error"]), errors
    else:
        assert all(p["error"] is None for p in points)
    if "best" in want:
        assert got["best"] is not None and got["best"]["parameters"] == want["best"]
        assert got["points"][0]["state"] in ("success", "failed")
    if "outcome" in want:
        assert got["outcome"] == want["outcome"]
    warning = want.get("warning")
    assert [w for w in got["warnings"] if warning and warning in w] == (
        got["warnings"] if warning else []
    )
    assert bool(got["warnings"]) == bool(warning)
    if "stdout" in want:
        out = params.read_notebook(workspace / points[0]["output"])
        text = "".join(
            o.get("text", "")
            for c in out.cells
            for o in c.get("outputs", [])
            if o.get("name") == "stdout"
        )
        assert want["stdout"] in text


@pytest.mark.parametrize(
    ("name", "plan", "errors"),
    [
        (
            "corpus/no_kernelspec.ipynb",
            {"grid": {"x": [2]}, "strategy": {"kind": "grid"}},
            [{"field": "kernel", "message": "the notebook names no kernel; set one"}],
        ),
        (
            "corpus/no_kernelspec.ipynb",
            {"grid": {"x": [2]}, "strategy": {"kind": "grid"}, "kernel": "python3"},
            [],
        ),
        ("corpus/bash.ipynb", {"grid": {"anything": [1, "a"]}, "strategy": {"kind": "grid"}}, []),
        (
            "corpus/literal.ipynb",
            {"grid": {"mode": ["fast", "warp"]}, "strategy": {"kind": "grid"}},
            [
                {
                    "field": "grid.mode",
                    "message": """mode is a Literal["fast", "slow"] parameter; got 'warp' (choices: 'fast', 'slow')""",
                }
            ],
        ),
    ],
)
def test_inline_validation(workspace, name, plan, errors):
    """What the panel's inline validation says, before anything runs."""
    store = RunStore(workspace / "validate.sqlite")
    manager = RunManager(store, build_targets({}), root_dir=workspace, user="corpus")
    assert manager.validate(name, plan)["errors"] == errors
    store.close()
