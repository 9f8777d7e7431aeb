"""`jupyter mvdp`: the same core and targets as the lab, for terminals and CI.

Exit codes: 0 success; 1 a run that failed, was cancelled, or a canary that alerted;
2 bad input (one line on stderr naming the problem, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import params
from .exceptions import MvdpError
from .metrics import format_value, leaderboard, numeric_metric_names

EXIT_OK, EXIT_RUN_FAILED, EXIT_BAD_INPUT = 0, 1, 2
_SYMBOLS = {
    "queued": "·",
    "running": "▶",
    "success": "✓",
    "failed": "✗",
    "skipped": "–",
    "unknown": "?",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's usage errors are bad input too
        self.exit(EXIT_BAD_INPUT, f"jupyter mvdp: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jupyter mvdp", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="run database (default: $MVDP_DB or the Jupyter data dir)")
    parser.add_argument(
        "--config",
        default=os.environ.get("MVDP_CONFIG"),
        help='JSON file {"targets": {"name": {"kind": "airflow", ...}}} (default: $MVDP_CONFIG)',
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
    p.add_argument("--plan", required=True, help="plan JSON file")
    p.add_argument("--target", help="target whose locations the DAG uses (default: local)")
    p.add_argument("-o", "--output", help="write the DAG here (default: stdout)")

    p = sub.add_parser("run", help="productionize a plan and follow it to the end")
    p.add_argument("notebook")
    p.add_argument("--plan", required=True, help="plan JSON file")
    p.add_argument("--target", help="target name (default: local)")
    p.add_argument("--json", action="store_true", help="print the run document as JSON")

    p = sub.add_parser("status", help="list runs, or show one")
    p.add_argument("run_id", nargs="?")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("cancel", help="cancel a run")
    p.add_argument("run_id")

    p = sub.add_parser("dev-airflow", help="start a local Airflow 3 for trying the Airflow target")
    p.add_argument("--port", type=int)
    p.add_argument("--home", help="AIRFLOW_HOME (default: a temporary folder)")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, or a usage error already printed as one line
        return e.code if isinstance(e.code, int) else EXIT_BAD_INPUT
    try:
        return _COMMANDS[args.command](args)
    except MvdpError as e:
        print(f"jupyter mvdp: error: {e.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


# --- commands -----------------------------------------------------------------------------


def _params(args) -> int:
    index, found = params.parameters_of(args.notebook)
    if args.json:
        print(
            json.dumps({"cell_index": index, "parameters": [p.to_json() for p in found]}, indent=2)
        )
        return EXIT_OK
    print(f"parameters cell: {index}")
    _table(
        ["name", "type", "default", "help"], [[p.name, p.type, p.default, p.help] for p in found]
    )
    return EXIT_OK


def _tag(args) -> int:
    removed = params.tag_file(args.notebook, args.cell, tagged=True)
    moved = f" (removed from cell {', '.join(map(str, removed))})" if removed else ""
    print(f"cell {args.cell} is the parameters cell{moved}")
    return EXIT_OK


def _untag(args) -> int:
    cell = args.cell
    if cell is None:
        cell = params.parameters_cell_index(params.read_notebook(args.notebook))
    params.tag_file(args.notebook, cell, tagged=False)
    print(f"cell {cell} is no longer tagged 'parameters'")
    return EXIT_OK


def _render(args) -> int:
    manager = _manager(args, args.notebook)
    spec = manager.prepare(_rel(manager, args.notebook), _read_plan(args.plan), args.target)
    if args.output:
        Path(args.output).write_text(spec.dag_source, encoding="utf-8")
        print(
            f"wrote {args.output} (DAG {spec.pipeline}, {len(spec.points)} points)", file=sys.stderr
        )
    else:
        sys.stdout.write(spec.dag_source)
    return EXIT_OK


def _run(args) -> int:
    manager = _manager(args, args.notebook)
    plan = _read_plan(args.plan)
    run_id = manager.submit(_rel(manager, args.notebook), plan, args.target, background=False)
    progress = _Progress(manager, run_id, quiet=args.json)
    try:
        doc = manager.wait(run_id, interval=0.25, on_events=progress.update)
    except KeyboardInterrupt:
        print("\ncancelling…", file=sys.stderr)
        manager.cancel(run_id)
        doc = manager.wait(run_id, interval=0.25)
    progress.close()
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_run(doc)
    return _exit_code(doc)


def _status(args) -> int:
    manager = _manager(args, ".")
    if args.run_id is None:
        docs = [manager.store.document(r) for r in manager.store.run_ids(manager.user)]
        if args.json:
            print(json.dumps({"runs": docs}, indent=2))
            return EXIT_OK
        rows = [
            [d["run_id"], d["notebook"], d["target"], d["state"], _counts(d), _best(d)]
            for d in docs
        ]
        _table(["run", "notebook", "target", "state", "points", "best"], rows)
        return EXIT_OK
    doc = manager.store.document(args.run_id)
    if (
        doc["state"] in ("running", "unknown")
        and doc["target"] != "local"
        and doc["target"] in manager.targets
    ):
        manager.sync(args.run_id)  # remote runs can be followed from any process
        doc = manager.store.document(args.run_id)
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        _print_run(doc)
    return _exit_code(doc) if doc["state"] not in ("queued", "running", "unknown") else EXIT_OK


def _cancel(args) -> int:
    manager = _manager(args, ".")
    manager.cancel(args.run_id)
    print(f"cancel requested for {args.run_id}")
    return EXIT_OK


def _dev_airflow(args) -> int:
    from .dev_airflow import serve_forever

    return serve_forever(port=args.port, home=args.home)


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
    from .manager import RunManager
    from .runs import RunStore
    from .targets import build_targets

    config = {}
    if args.config:
        try:
            config = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as e:
            raise MvdpError(f"Cannot read the config file {args.config}: {e}") from None
    path = Path(notebook).resolve()
    cwd = Path.cwd().resolve()
    root = cwd if path.is_relative_to(cwd) else (path if path.is_dir() else path.parent)
    limit = getattr(args, "unreachable_limit", None)
    return RunManager(
        RunStore(args.db),
        build_targets(config.get("targets", {})),
        root_dir=root,
        **({"unreachable_limit": limit} if limit is not None else {}),
    )


def _rel(manager, notebook: str) -> str:
    return str(Path(notebook).resolve().relative_to(manager.root))


def _read_plan(path: str) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise MvdpError(f"Cannot read the plan {path}: {e.strerror}") from None
    except ValueError as e:
        raise MvdpError(f"The plan {path} is not valid JSON: {e}") from None


def _exit_code(doc: dict) -> int:
    if doc["state"] != "success" or doc["outcome"] == "alert":
        return EXIT_RUN_FAILED
    return EXIT_OK


def _counts(doc: dict) -> str:
    return " ".join(f"{_SYMBOLS[k]}{v}" for k, v in doc["counts"].items() if v)


def _best(doc: dict) -> str:
    metric = doc["strategy"].get("metric")
    if not doc["best"] or not metric:
        return ""
    return f"{metric}={format_value(doc['best']['metrics'].get(metric))}"


class _Progress:
    """A live line of point states on stderr, plus a line per finished point."""

    def __init__(self, manager, run_id: str, quiet: bool):
        self.manager, self.run_id, self.quiet = manager, run_id, quiet
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, events: list[dict]) -> None:
        if self.quiet:
            return
        doc = self.manager.store.document(self.run_id)
        params_of = {p["id"]: p for p in doc["points"]}
        for e in events:
            if e["kind"] == "point" and e["state"] in ("success", "failed"):
                p = params_of[e["point_id"]]
                values = " ".join(f"{k}={format_value(v)}" for k, v in p["parameters"].items())
                result = e["error"] or " ".join(
                    f"{k}={format_value(v)}" for k, v in p["metrics"].items()
                )
                self._line(f"{_SYMBOLS[e['state']]} {e['point_id']} {values}  {result}")
            elif e["kind"] == "run" and e.get("message"):
                self._line(f"run {e['state']}: {e['message']}")
        status = f"[{time.monotonic() - self.start:5.1f}s] {doc['state']}  {_counts(doc)}"
        if self.tty:
            print(f"\r\033[K{status}", end="", file=sys.stderr, flush=True)

    def _line(self, text: str) -> None:
        prefix = "\r\033[K" if self.tty else ""
        print(prefix + text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            print(file=sys.stderr)


def _print_run(doc: dict) -> None:
    strategy = doc["strategy"]
    metric, goal = strategy.get("metric"), strategy.get("goal", "max")
    print(f"run {doc['run_id']}  pipeline {doc['pipeline']}  target {doc['target']}")
    print(f"state {doc['state']}  strategy {strategy['kind']}  points {_counts(doc)}")
    if doc["message"]:
        print(f"message: {doc['message']}")
    if doc["outcome"]:
        print(f"canary: {doc['outcome']}: {doc['reason']}")
    elif doc["reason"]:
        print(f"stopped: {doc['reason']}")
    rows = leaderboard(doc["points"], metric, goal)
    names = sorted({k for p in doc["points"] for k in p["parameters"]})
    metrics = numeric_metric_names(p["metrics"] for p in doc["points"])
    table = [
        [
            str(r["rank"] or ""),
            r["id"],
            r["state"],
            *(format_value(r["parameters"].get(n, "")) for n in names),
            *(format_value(r["metrics"].get(m, "")) for m in metrics),
            r["error"] or r["output"] or "",
        ]
        for r in rows
    ]
    print()
    _table(["#", "point", "state", *names, *metrics, "output / error"], table)


def _table(header: list[str], rows: list[list]) -> None:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


if __name__ == "__main__":
    sys.exit(main())
