"""`jupyter mvdp`: exit codes, one-line errors, the --json document."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_mvdp.cli import main
from jupyter_mvdp.render.dag import runtime_module
from tests.targets.test_local import write_notebook

RUN_KEYS = {"run_id", "pipeline", "target", "state", "strategy", "outcome", "points", "best"}
POINT_KEYS = {"id", "parameters", "state", "metrics", "output", "error"}


def plan_file(path, plan: dict) -> str:
    path.write_text(json.dumps(plan))
    return str(path)


def cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_params_json_and_table(workspace, capsys):
    code, out, _ = cli(capsys, "params", "tiny.ipynb", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["cell_index"] == 0
    assert [(p["name"], p["type"], p["default"], p["help"]) for p in doc["parameters"]] == [
        ("x", "int", "1", "the score this point records"),
        ("fail", "bool", "False", "raise in the notebook"),
        ("sleep", "float", "0.0", "seconds to sleep"),
    ]
    code, out, _ = cli(capsys, "params", "tiny.ipynb")
    assert code == 0
    assert "x      int    1        the score this point records" in out


def test_tag_and_untag_move_the_parameters_tag(workspace, capsys):
    assert cli(capsys, "untag", "tiny.ipynb")[0] == 0
    code, _, err = cli(capsys, "params", "tiny.ipynb")
    assert code == 2
    assert "no parameters cell" in err and "jupyter mvdp tag" in err
    code, out, _ = cli(capsys, "tag", "tiny.ipynb", "--cell", "1")
    assert code == 0
    code, out, _ = cli(capsys, "tag", "tiny.ipynb", "--cell", "0")
    assert "removed from cell 1" in out
    nb = nbformat.read(workspace / "tiny.ipynb", as_version=4)
    assert [c.metadata.get("tags") for c in nb.cells] == [["parameters"], None]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["params", "missing.ipynb"], "Notebook not found"),
        (["params", "notes.txt"], "is not a Jupyter notebook"),
        (["tag", "tiny.ipynb", "--cell", "9"], "Cell 9 does not exist"),
        (["run", "tiny.ipynb", "--plan", "nope.json"], "Cannot read the plan nope.json"),
        (["run", "tiny.ipynb", "--plan", "{bad}"], "Cannot read the plan"),
        (
            ["status", "no-such-run"],
            "No run 'no-such-run' (list your runs with 'jupyter mvdp status')",
        ),
        (["run"], "required: notebook (see 'jupyter mvdp run --help')"),
        (["tag", "tiny.ipynb"], "required: --cell (see 'jupyter mvdp tag --help')"),
        (["run", "tiny.ipynb"], "tiny.ipynb has no saved plan (metadata.mvdp.plan): pass --plan"),
    ],
)
def test_bad_input_exits_2_with_one_line(workspace, capsys, args, needle):
    code, _out, err = cli(capsys, *args)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("plan", "needle"),
    [
        (
            {"grid": {"x": [1]}, "strategy": {"kind": "grid"}, "colour": "red"},
            "unknown key 'colour'",
        ),
        ({"grid": {"y": [1]}, "strategy": {"kind": "grid"}}, "Unknown parameter 'y'"),
        ({"grid": {"x": ["a"]}, "strategy": {"kind": "grid"}}, "x is an int parameter; got 'a'"),
        (
            {
                "grid": {"x": list(range(200)), "sleep": list(range(100))},
                "strategy": {"kind": "grid"},
            },
            "20,000 points",
        ),
    ],
)
def test_bad_plans_exit_2_naming_the_problem(workspace, capsys, plan, needle):
    code, _, err = cli(capsys, "run", "tiny.ipynb", "--plan", plan_file(workspace / "p.json", plan))
    assert code == 2
    assert needle in err


def test_unknown_target_exits_2(workspace, capsys):
    plan = plan_file(workspace / "p.json", {"grid": {}, "strategy": {"kind": "grid"}})
    code, _, err = cli(capsys, "run", "tiny.ipynb", "--plan", plan, "--target", "mars")
    assert code == 2
    assert "Unknown target 'mars'" in err


def test_run_json_document_and_status(workspace, capsys):
    plan = plan_file(
        workspace / "p.json",
        {"grid": {"x": [1, 2]}, "strategy": {"kind": "grid", "metric": "score"}},
    )
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", plan, "--json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) >= RUN_KEYS
    assert all(set(p) >= POINT_KEYS for p in doc["points"])
    assert doc["state"] == "success" and doc["target"] == "local" and doc["outcome"] is None
    assert doc["best"]["parameters"] == {"x": 2}
    assert all((workspace / p["output"]).exists() for p in doc["points"])

    code, out, _ = cli(capsys, "status", "--json")
    assert [r["run_id"] for r in json.loads(out)["runs"]] == [doc["run_id"]]
    code, out, _ = cli(capsys, "status", doc["run_id"])
    assert code == 0
    assert "state success" in out and "score" in out


def test_run_with_a_failed_point_exits_1(workspace, capsys):
    plan = plan_file(workspace / "p.json", {"grid": {"fail": [True]}, "strategy": {"kind": "grid"}})
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", plan)
    assert code == 1
    assert "ValueError: boom" in out


def test_canary_alert_exits_1(workspace, capsys):
    canary = {"kind": "canary", "metric": "score", "baseline": 10}
    plan = plan_file(workspace / "p.json", {"grid": {"x": [2]}, "strategy": canary})
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", plan, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["outcome"] == "alert" and "below the baseline 10" in doc["reason"]


def test_installed_entry_point_reports_errors_without_traceback(workspace):
    env = {**os.environ, "MVDP_DB": str(workspace / "runs.sqlite")}
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_mvdp.cli", "params", "notes.txt"],
        capture_output=True,
        text=True,
        env=env,
        cwd=workspace,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("jupyter mvdp: error: notes.txt is not a Jupyter notebook")
    assert "Traceback" not in proc.stderr


def _pipeline_of(capsys, out: Path, *args) -> str:
    code, _, err = cli(capsys, "render", *args, "-o", str(out / "dag.py"))
    assert code == 0, err
    assert (out / f"{runtime_module()[0]}.py").is_file()  # the rules the DAG imports
    return err.split("(DAG ", 1)[1].split(",", 1)[0]


@pytest.mark.parametrize("in_git", [True, False])
def test_the_pipeline_is_the_same_from_any_working_directory(tmp_path, monkeypatch, capsys, in_git):
    monkeypatch.setenv("MVDP_DB", str(tmp_path / "runs.sqlite"))
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    if in_git:
        subprocess.run(["git", "init", "-q", str(project)], check=True)
    write_notebook(project / "sub" / "tiny.ipynb")
    plan = plan_file(tmp_path / "p.json", {"grid": {}, "strategy": {"kind": "grid"}})
    seen = set()
    for cwd, path in [
        (project / "sub", "tiny.ipynb"),
        (project, "sub/tiny.ipynb"),
        (tmp_path, "project/sub/tiny.ipynb"),
    ]:
        monkeypatch.chdir(cwd)
        seen.add(_pipeline_of(capsys, tmp_path, path, "--plan", plan))
    assert len(seen) == 1
    monkeypatch.chdir(tmp_path)
    named = _pipeline_of(
        capsys, tmp_path, "project/sub/tiny.ipynb", "--plan", plan, "--pipeline", "churn"
    )
    assert named == "churn"
    code, _, err = cli(
        capsys, "render", "project/sub/tiny.ipynb", "--plan", plan, "--pipeline", "a b"
    )
    assert code == 2 and "--pipeline 'a b'" in err and len(err.strip().splitlines()) == 1


def test_json_outputs_are_relative_to_the_cwd_and_a_missing_metric_warns(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("MVDP_DB", str(tmp_path / "runs.sqlite"))
    (tmp_path / "project").mkdir()
    write_notebook(tmp_path / "project" / "tiny.ipynb")
    monkeypatch.chdir(tmp_path)
    plan = {"grid": {"x": [1]}, "strategy": {"kind": "grid", "metric": "scroe"}}  # a typo
    code, out, err = cli(
        capsys,
        "run",
        "project/tiny.ipynb",
        "--plan",
        plan_file(tmp_path / "p.json", plan),
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    (point,) = doc["points"]
    assert point["output"].startswith("project/mvdp-runs/") and Path(point["output"]).is_file()
    assert doc["best"] is None
    assert doc["warnings"] == [
        "No point recorded the metric 'scroe' as a number (recorded: score); check the strategy's metric"
    ]
    assert err.strip() == f"jupyter mvdp: warning: {doc['warnings'][0]}"


def test_papermill_log_lines_are_not_printed(tmp_path, monkeypatch, capsys):
    """A cell Python cannot parse falls back to papermill's parser, which logs each line it
    drops; the CLI prints only its own output."""
    import papermill

    monkeypatch.chdir(tmp_path)
    source = Path(papermill.__file__).parent / "tests" / "notebooks" / "complex_parameters.ipynb"
    shutil.copy(source, tmp_path / "complex.ipynb")
    code, out, err = cli(capsys, "params", "complex.ipynb")
    assert code == 0 and err == ""
    assert "Unable to parse" not in out and "Variable a" in out


@pytest.mark.parametrize(
    ("args", "error", "needle"),
    [
        (["run", "tiny.ipynb", "--plan", "nope.json", "--json"], "MvdpError", "Cannot read"),
        (["status", "no-such-run", "--json"], "RunNotFound", "jupyter mvdp status"),
        (["params", "missing.ipynb", "--json"], "NotebookNotFound", "Notebook not found"),
        (["run", "--json"], "UsageError", "--help"),
    ],
)
def test_json_errors_are_one_document_on_stdout(workspace, capsys, args, error, needle):
    code, out, err = cli(capsys, *args)
    assert code == 2
    assert err == ""
    doc = json.loads(out)
    assert doc["error"] == error and needle in doc["message"]


def save_plan_in_notebook(path, plan) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.metadata["mvdp"] = {"plan": plan}
    nbformat.write(nb, path)


def test_run_and_render_use_the_plan_saved_in_the_notebook(workspace, capsys):
    """The plan the lab saved in metadata.mvdp.plan is what the terminal runs."""
    save_plan_in_notebook(
        workspace / "tiny.ipynb",
        {"grid": {"x": [3, 5]}, "strategy": {"kind": "grid", "metric": "score", "goal": "min"}},
    )
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--json")
    assert code == 0
    doc = json.loads(out)
    assert sorted(p["parameters"]["x"] for p in doc["points"]) == [3, 5]
    assert doc["strategy"]["goal"] == "min" and doc["best"]["parameters"] == {"x": 3}

    code, out, _ = cli(capsys, "render", "tiny.ipynb")
    assert code == 0
    assert "Grid search of tiny.ipynb: 2 points" in out and '"parameters": {"x": 5}' in out

    # an explicit --plan wins over the saved one
    plan = plan_file(workspace / "p.json", {"grid": {"x": [7]}, "strategy": {"kind": "grid"}})
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", plan, "--json")
    assert [p["parameters"] for p in json.loads(out)["points"]] == [{"x": 7}]


def test_an_invalid_saved_plan_is_named_in_one_line(workspace, capsys):
    save_plan_in_notebook(workspace / "tiny.ipynb", {"grid": {}, "strategy": {"kind": "nope"}})
    code, _, err = cli(capsys, "run", "tiny.ipynb")
    assert code == 2
    assert err.startswith("jupyter mvdp: error: The plan saved in tiny.ipynb: Invalid plan")
    assert len(err.strip().splitlines()) == 1


def test_status_of_a_pipeline_prints_its_history(workspace, capsys):
    plan = plan_file(
        workspace / "p.json",
        {"grid": {"x": [1, 2]}, "strategy": {"kind": "canary", "metric": "score"}},
    )
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", plan, "--json")
    first = json.loads(out)
    lower = plan_file(
        workspace / "q.json",
        {"grid": {"x": [1]}, "strategy": {"kind": "canary", "metric": "score"}},
    )
    code, out, _ = cli(capsys, "run", "tiny.ipynb", "--plan", lower, "--json")
    second = json.loads(out)
    assert code == 1 and second["outcome"] == "alert"  # 1 is below the champion's 2

    code, out, err = cli(capsys, "status", "--pipeline", first["pipeline"])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"pipeline {first['pipeline']}"
    assert any(line.startswith("champion: score 2 since ") for line in lines)
    table = lines[lines.index("") + 2 : lines.index("champions, newest first:") - 1]
    runs = [line for line in table if first["run_id"] in line or second["run_id"] in line]
    assert len(runs) == len(table) == 2
    assert second["run_id"] in runs[0] and "alert" in runs[0]  # newest first
    assert "jupyter-mvdp" in runs[0] and "score=1" in runs[0]
    assert "deploy" in runs[1] and "score=2" in runs[1] and "★" in runs[1]

    code, out, _ = cli(capsys, "status", "--pipeline", first["pipeline"], "--json")
    history = json.loads(out)
    assert [r["outcome"] for r in history["runs"]] == ["alert", "deploy"]
    assert [c["value"] for c in history["champions"]] == [2]

    code, out, err = cli(capsys, "status", "--pipeline", "mvdp_nobody")
    assert code == 2 and not out
    assert err.count("\n") == 1 and "No pipeline 'mvdp_nobody'" in err


def test_run_warns_of_a_file_the_target_would_not_have(workspace, capsys):
    """On a target that ships files, `run` says before anything runs which file the notebook
    names next to it that the plan does not ship, and the fix (here the Airflow is down: the
    run then stops with its own one-line error)."""
    from jupyter_mvdp.targets.airflow.dev import free_port

    write_notebook(workspace / "reads.ipynb", 'data_path = "data.csv"', "open(data_path)")
    (workspace / "data.csv").write_text("a,b\n")
    config = {
        "targets": {
            "af": {
                "kind": "airflow",
                "api_url": f"http://127.0.0.1:{free_port()}",
                "token": "t",
                **{f"{k}_location": str(workspace / k) for k in ("dags", "notebooks", "outputs")},
            }
        }
    }
    (workspace / "targets.json").write_text(json.dumps(config))
    plan = plan_file(workspace / "plan.json", {"grid": {}, "strategy": {"kind": "grid"}})
    code, out, err = cli(
        capsys, "--config", "targets.json", "run", "reads.ipynb", "--plan", plan, "--target", "af"
    )
    lines = err.splitlines()
    assert lines[0] == (
        "jupyter mvdp: warning: the notebook names 'data.csv', a file next to it that is not "
        'shipped to the target, where reading it fails: add "data.csv" to files'
    )
    assert code == 1 and "Cannot reach Airflow" in out  # the run failed, and said why
