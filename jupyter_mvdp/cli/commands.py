"""`jupyter mvdp`: the same core and targets as the lab, for terminals and CI.

Exit codes: 0 success; 1 a run that failed, was cancelled, or a canary that alerted;
2 bad input (one line on stderr naming the problem, never a traceback; with ``--json`` a JSON
document ``{"error", "message"}`` on stdout instead, same exit code).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path

from ..core import params
from ..core.models import ACTIVE_RUN_STATES, Plan
from ..core.naming import is_pipeline_name, project_root
from ..exceptions import MvdpError, RunNotFound
from ..kernels.lifeline import Interrupted, signals_as_interrupt
from ..server import documents
from . import printing

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2


_PIPELINE_HELP = (
    "pipeline (DAG) id; default: derived from the user and the notebook's path relative to "
    "its git repository (else its folder), the same from any working directory"
)


class _UsageError(MvdpError):
    """A command line argparse rejects; bad input like any other."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # raised, so main() prints it as text or JSON
        raise _UsageError(f"{message} (see '{self.prog} --help')")


_PLAN_HELP = "plan JSON file (default: the plan saved in the notebook's metadata.mvdp.plan)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jupyter mvdp", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="run database (default: $MVDP_DB or the Jupyter data dir)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show the libraries' warnings and logs"
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("MVDP_CONFIG"),
        help='JSON file {"targets": {"name": {"kind": "airflow", ...}}, "policy": {...}}'
        " (default: $MVDP_CONFIG)",
    )
    parser.add_argument(
        "--unreachable-limit",
        type=float,
        default=None,
        help="seconds a target may stay unreachable before a run is shown 'unknown' (default: 300)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("params", help="show the notebook's parameters")
    p.add_argument("notebook")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tag", help="tag a cell as the parameters cell")
    p.add_argument("notebook")
    p.add_argument("--cell", type=int, required=True, help="cell index, from 0")

    p = sub.add_parser("untag", help="remove the parameters tag")
    p.add_argument("notebook")
    p.add_argument("--cell", type=int, help="cell index (default: the tagged cell)")

    p = sub.add_parser("render", help="render the Airflow DAG of a plan")
    p.add_argument("notebook")
    p.add_argument("--plan", help=_PLAN_HELP)
    p.add_argument("--target", help="target whose locations the DAG uses (default: local)")
    p.add_argument("-o", "--output", help="write the DAG here (default: stdout)")
    p.add_argument("--pipeline", help=_PIPELINE_HELP)

    p = sub.add_parser("run", help="productionize a plan and follow it to the end")
    p.add_argument("notebook")
    p.add_argument("--plan", help=_PLAN_HELP)
    p.add_argument("--target", help="target name (default: local)")
    p.add_argument("--pipeline", help=_PIPELINE_HELP)
    p.add_argument("--json", action="store_true", help="print the run document as JSON")

    p = sub.add_parser("status", help="list runs, show one, or a pipeline's history")
    p.add_argument("run_id", nargs="?")
    p.add_argument(
        "--pipeline",
        help="the history of this pipeline (DAG id): every run, whoever started it (the "
        "schedule, Airflow's UI or API), how it ended, and its champions",
    )
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("cancel", help="cancel a run")
    p.add_argument("run_id")

    p = sub.add_parser("dev-airflow", help="start a local Airflow 3 for trying the Airflow target")
    p.add_argument("--port", type=int)
    p.add_argument("--home", help="AIRFLOW_HOME (default: a temporary folder)")
    p.add_argument(
        "--executor",
        choices=("local", "celery"),
        default="local",
        help="celery: also Redis and two Celery workers (queues default and ml)",
    )
    p.add_argument(
        "--cold-kernels",
        action="store_true",
        help="every point starts a fresh kernel (default: forked from its worker's zygote)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    # papermill logs its own warnings ("Unable to parse line ..."); the CLI says what matters
    logging.getLogger("papermill").setLevel(logging.ERROR)
    argv = sys.argv[1:] if argv is None else argv
    as_json = "--json" in argv  # also for usage errors, before parsing succeeded
    try:
        args = build_parser().parse_args(argv)
        _quiet_libraries(args.verbose)
        with signals_as_interrupt():
            return _COMMANDS[args.command](args)
    except SystemExit as e:  # --help
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    except RunNotFound as e:
        hint = MvdpError(f"{e.message} (list your runs with 'jupyter mvdp status')")
        return _error(hint, as_json, type(e).__name__)
    except MvdpError as e:
        return _error(e, as_json)
    except Interrupted as e:
        return _signal_exit(e.signal_name)


def _signal_exit(name: str) -> int:
    """The shell's convention for a command ended by a signal."""
    return 128 + getattr(signal.Signals, name).value


def _quiet_libraries(verbose: bool) -> None:
    """The CLI prints its own lines only: nbformat's and papermill's warnings and log lines
    (``MissingIDFieldWarning``, ``Unable to parse line ...``) appear with --verbose."""
    import warnings

    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
        logging.getLogger("papermill").setLevel(logging.INFO)
        return
    warnings.simplefilter("ignore")
    for name in ("papermill", "nbclient", "traitlets", "jupyter_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _error(e: MvdpError, as_json: bool, kind: str | None = None) -> int:
    """Report bad input: one line on stderr, or one JSON document on stdout with --json."""
    if as_json:
        doc = e.to_json()
        doc["error"] = kind or doc["error"].lstrip("_")
        print(json.dumps(doc))
    else:
        printing.say(f"jupyter mvdp: error: {e.message}", file=sys.stderr)
    return EXIT_BAD_INPUT


# --- commands -----------------------------------------------------------------------------


def _params(args) -> int:
    found = params.inspect(params.read_notebook(args.notebook))
    if args.json:
        print(json.dumps(found.to_json(), indent=2))
        return EXIT_OK
    printing.say(f"parameters cell: {found.cell_index}")
    if found.note:
        printing.say(f"note: {found.note}")
    rows = [
        [
            p.name,
            p.type,
            p.default if p.literal else f"{p.default} (computed)",
            p.help,
        ]
        for p in found.parameters
    ]
    printing.table(["name", "type", "default", "help"], rows)
    return EXIT_OK


def _tag(args) -> int:
    removed = params.tag_file(args.notebook, args.cell, tagged=True)
    moved = f" (removed from cell {', '.join(map(str, removed))})" if removed else ""
    printing.say(f"cell {args.cell} is the parameters cell{moved}")
    return EXIT_OK


def _untag(args) -> int:
    cell = args.cell
    if cell is None:
        cell = params.parameters_cell_index(params.read_notebook(args.notebook))
    params.tag_file(args.notebook, cell, tagged=False)
    printing.say(f"cell {cell} is no longer tagged 'parameters'")
    return EXIT_OK


def _render(args) -> int:
    manager = _manager(args, args.notebook)
    spec = manager.prepare(
        _rel(manager, args.notebook),
        _load_plan(args),
        args.target,
        pipeline=_pipeline(args),
    )
    from ..render.dag import runtime_files

    if args.output:
        try:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            Path(args.output).write_text(spec.dag_source, encoding="utf-8")
            for name, content in runtime_files().items():  # the DAG imports it from its folder
                (Path(args.output).parent / name).write_bytes(content)
        except OSError as e:
            raise MvdpError(f"Cannot write {args.output}: {e.strerror}") from None
        printing.say(
            f"wrote {args.output} (DAG {spec.pipeline}, {len(spec.points)} points)"
            f" and {', '.join(runtime_files())} next to it",
            file=sys.stderr,
        )
    else:
        sys.stdout.write(spec.dag_source)
        printing.say(
            f"note: the DAG imports {', '.join(runtime_files())} (jupyter_mvdp/core/runtime.py): "
            "put it next to the DAG file, or render with -o",
            file=sys.stderr,
        )
    return EXIT_OK


def _run(args) -> int:
    manager = _manager(args, args.notebook)
    plan = _load_plan(args)
    checked = manager.validate(_rel(manager, args.notebook), plan.to_json(), args.target)
    for warning in checked.get("warnings") or []:  # e.g. a file the target would not have
        printing.say(f"jupyter mvdp: warning: {warning['message']}", file=sys.stderr)
    run_id = manager.submit(
        _rel(manager, args.notebook),
        plan,
        args.target,
        background=False,
        pipeline=_pipeline(args),
    )
    progress = printing.Progress(manager, run_id, quiet=args.json)
    stopped_by = None
    try:
        doc = manager.wait(run_id, interval=0.25, on_events=progress.update)
    except Interrupted as e:  # Ctrl-C, SIGTERM, SIGHUP: cancel, keep finished points' outputs
        stopped_by = e.signal_name
        print(f"\n{stopped_by}: cancelling…", file=sys.stderr)
        manager.cancel(run_id, reason=f"cancelled by {stopped_by}")
        doc = manager.wait(run_id, interval=0.25)
    progress.close()
    doc = _show(manager, doc, args.json)
    return _signal_exit(stopped_by) if stopped_by else _exit_code(doc)


def _status(args) -> int:
    manager = _manager(args, ".")
    manager.mark_orphans()  # a local run whose process died is shown so, with why
    if args.run_id is None:  # runs the targets started by themselves come home, then a poll
        manager.refresh(manager.user)
    if args.pipeline is not None:
        if args.run_id is not None:
            raise MvdpError("give a run id or --pipeline, not both")
        history = manager.history(args.pipeline)
        if args.json:
            print(json.dumps(history, indent=2))
        else:
            printing.print_history(history)
        return EXIT_OK
    if args.run_id is None:
        for notice in manager.store_notices():
            if notice not in manager.store_problems():  # those were said on opening it
                printing.say(f"jupyter mvdp: warning: {notice}", file=sys.stderr)
        docs = [_from_cwd(manager, d) for d in manager.documents(manager.user)]
        if args.json:
            print(json.dumps({"runs": docs}, indent=2))
            return EXIT_OK
        rows = [
            [
                d["run_id"],
                d["notebook"],
                d["target"],
                d["state"],
                printing.started_by(d["started_by"]),
                printing.counts(d),
                printing.best(d),
            ]
            for d in docs
        ]
        header = ["run", "notebook", "target", "state", "started by", "points", "best"]
        printing.table(header, rows)
        return EXIT_OK
    doc = manager.document(args.run_id)
    if doc["state"] in ("running", "unknown") and manager.follows_from_here(args.run_id):
        manager.sync(args.run_id)  # remote runs can be followed from any process
        doc = manager.document(args.run_id)
    doc = _show(manager, doc, args.json)
    return EXIT_OK if doc["state"] in ACTIVE_RUN_STATES else _exit_code(doc)


def _show(manager, doc: dict, as_json: bool) -> dict:
    """Print a run: its warnings, then the document (--json) or its summary."""
    doc = _from_cwd(manager, doc)
    printing.warnings(doc)
    if as_json:
        print(json.dumps(doc, indent=2))
    else:
        printing.print_run(doc)
    return doc


def _cancel(args) -> int:
    manager = _manager(args, ".")
    manager.cancel(args.run_id)
    printing.say(f"cancel requested for {args.run_id}")
    return EXIT_OK


def _dev_airflow(args) -> int:
    from ..targets.airflow.dev import serve_forever

    return serve_forever(
        port=args.port, home=args.home, executor=args.executor, warm_kernels=not args.cold_kernels
    )


_COMMANDS = {
    "params": _params,
    "tag": _tag,
    "untag": _untag,
    "render": _render,
    "run": _run,
    "status": _status,
    "cancel": _cancel,
    "dev-airflow": _dev_airflow,
}


# --- helpers ------------------------------------------------------------------------------


def _manager(args, notebook: str):
    from ..core.policy import Policies
    from ..service.manager import RunManager
    from ..targets import build_targets

    config = {}
    if args.config:
        try:
            config = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as e:
            raise MvdpError(f"Cannot read the config file {args.config}: {e}") from None
    root = project_root(_resolved(notebook))
    limit = getattr(args, "unreachable_limit", None)
    try:
        policy = Policies(config.get("policy"))
    except ValueError as e:
        raise MvdpError(f"The config file {args.config}: {e}") from None
    manager = RunManager.open(
        args.db,
        build_targets(config.get("targets", {})),
        root_dir=root,
        shared_outputs=bool(config.get("shared_outputs", False)),
        policy=policy,
        **({"unreachable_limit": limit} if limit is not None else {}),
    )
    for problem in manager.store_problems():  # a damaged store set aside, a missing one
        printing.say(f"jupyter mvdp: warning: {problem}", file=sys.stderr)
    return manager


def _resolved(path: str) -> Path:
    try:
        return Path(path).resolve()
    except (ValueError, OSError) as e:  # a NUL byte, a loop of links
        raise MvdpError(f"Cannot use the path {path!r}: {e}") from None


def _rel(manager, notebook: str) -> str:
    return str(_resolved(notebook).relative_to(manager.root))


def _pipeline(args) -> str | None:
    name = getattr(args, "pipeline", None)
    if name is not None and not is_pipeline_name(name):
        raise MvdpError(
            f"--pipeline {name!r}: use letters, digits, '_', '.' and '-' (a valid Airflow DAG id)"
        )
    return name


def _from_cwd(manager, doc: dict) -> dict:
    """The document with output paths relative to the working directory (absolute when
    outside it): the store keeps them relative to the project root, which may be elsewhere."""
    folder = manager.output_dir(doc["run_id"])  # every output is <folder>/<point>.ipynb
    cwd = Path.cwd().resolve()

    def fix(path: str | None) -> str | None:
        if not path:
            return path
        full = (folder / Path(path).name).resolve()
        return str(full.relative_to(cwd)) if full.is_relative_to(cwd) else str(full)

    if "points" in doc:  # a run's document; the list's entries are summaries
        doc = {**doc, "points": [{**p, "output": fix(p["output"])} for p in doc["points"]]}
    else:
        doc = dict(doc)
    if doc.get("best"):
        doc["best"] = {**doc["best"], "output": fix(doc["best"]["output"])}
    return doc


def _load_plan(args) -> Plan:
    """The plan of --plan, else the one the lab saved in the notebook (``metadata.mvdp.plan``)."""
    if args.plan:
        return Plan.from_json(_read_plan(args.plan))
    nb = params.read_notebook(args.notebook)
    doc = nb.metadata.get("mvdp", {}).get("plan")
    if doc is None:
        raise MvdpError(
            f"{Path(args.notebook).name} has no saved plan (metadata.mvdp.plan): "
            "pass --plan FILE or define one in the lab's MVDP panel and save the notebook"
        )
    try:
        return Plan.from_json(doc)
    except MvdpError as e:
        raise MvdpError(
            f"The plan saved in {Path(args.notebook).name}: {e.message}", errors=e.errors
        ) from None


def _read_plan(path: str) -> dict:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise MvdpError(f"Cannot read the plan {path}: {e.strerror}") from None
    return documents.parse(raw, f"The plan {path}")


def _exit_code(doc: dict) -> int:
    if doc["state"] != "success" or doc["outcome"] == "alert":
        return EXIT_RUN_FAILED
    return EXIT_OK
