"""What the CLI prints: tables, the live progress of a run, a run's summary.

Every line goes through ``say``: the text a notebook, a plan or a target supplied (parameter
help, values, metric names, exception text, reasons) is made printable first, so no escape
sequence (colours, OSC 52 clipboard writes, cursor moves), C1 control, backspace or bidi
override reaches the terminal. Only this module writes the terminal's own control sequences.
"""

from __future__ import annotations

import sys
import time
import unicodedata

from ..core.metrics import format_value, leaderboard, numeric_metric_names

#: bidi embeddings, overrides and isolates, and the marks: they reorder what a terminal shows
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def printable(text: object, lines: bool = True) -> str:
    """``text`` with every control character (but newline and tab where ``lines``) and bidi
    control shown escaped, as Python writes it: ``\\x1b``, ``\\u202e``."""
    keep = "\n\t" if lines else ""
    out = []
    for ch in str(text):
        if ch in keep or (unicodedata.category(ch) not in ("Cc", "Cs") and ch not in _BIDI):
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def say(text: object = "", *, file=None, end: str = "\n", flush: bool = False) -> None:
    """Print one line of text that may come from a notebook, a plan or a target."""
    print(printable(text), file=file or sys.stdout, end=end, flush=flush)


SYMBOLS = {
    "queued": "·",
    "running": "▶",
    "success": "✓",
    "failed": "✗",
    "skipped": "–",
    "unknown": "?",
}


def warnings(doc: dict) -> None:
    for warning in doc.get("warnings") or []:
        say(f"jupyter mvdp: warning: {warning}", file=sys.stderr)


def counts(doc: dict) -> str:
    return " ".join(f"{SYMBOLS[k]}{v}" for k, v in doc["counts"].items() if v)


def best(doc: dict) -> str:
    metric = doc["strategy"].get("metric")
    if not doc["best"] or not metric:
        return ""
    return f"{metric}={format_value(doc['best']['metrics'].get(metric))}"


class Progress:
    """A live line of point states on stderr, plus a line per finished point."""

    def __init__(self, manager, run_id: str, quiet: bool):
        self.manager, self.run_id, self.quiet = manager, run_id, quiet
        self.start = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._parameters: dict[str, dict] | None = None  # read once, not per tick
        self._said: set[str] = set()  # points whose line is printed
        self._state, self._counts = "queued", {}

    def update(self, events: list[dict]) -> None:
        """One tick's events: a line per point that finished, the status line from the
        events' counts (nothing here reads every point again)."""
        if self.quiet:
            return
        if self._parameters is None:
            self._parameters = self.manager.point_parameters(self.run_id)
        for e in events:
            if e["kind"] == "points":
                self._counts = e["counts"]
                for p in e["points"]:
                    if p["state"] in ("success", "failed") and p["id"] not in self._said:
                        self._said.add(p["id"])
                        self._finished(p)
            elif e["kind"] == "run":
                self._state = e["state"] or self._state
                if e.get("message"):
                    self._line(f"run {e['state']}: {e['message']}")
        status = f"[{time.monotonic() - self.start:5.1f}s] {self._state}  {counts({'counts': self._counts})}"
        if self.tty:
            print(f"\r\033[K{printable(status)}", end="", file=sys.stderr, flush=True)

    def _finished(self, p: dict) -> None:
        parameters = (self._parameters or {}).get(p["id"], {})
        values = " ".join(f"{k}={format_value(v)}" for k, v in parameters.items())
        result = p["error"] or " ".join(f"{k}={format_value(v)}" for k, v in p["metrics"].items())
        self._line(f"{SYMBOLS[p['state']]} {p['id']} {values}  {result}")

    def _line(self, text: str) -> None:
        prefix = "\r\033[K" if self.tty else ""
        print(prefix + printable(text), file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.tty and not self.quiet:
            print(file=sys.stderr)


def print_run(doc: dict) -> None:
    strategy = doc["strategy"]
    metric, goal = strategy.get("metric"), strategy.get("goal", "max")
    say(f"run {doc['run_id']}  pipeline {doc['pipeline']}  target {doc['target']}")
    say(f"state {doc['state']}  strategy {strategy['kind']}  points {counts(doc)}")
    if doc["message"]:
        say(f"message: {doc['message']}")
    if doc.get("ab"):  # an A/B test: both variants and the verdict in words (cli/abtest.py)
        from .abtest import print_ab

        print_ab(doc["ab"], doc["reason"])
    elif doc["outcome"]:
        say(f"canary: {doc['outcome']}: {doc['reason']}")
    elif doc["reason"]:
        say(f"stopped: {doc['reason']}")
    if doc.get("optimize"):  # the search: best point, history, importance (cli/optimize.py)
        from .optimize import print_optimize

        print_optimize(doc)
    rows = leaderboard(doc["points"], metric, goal)
    names = sorted({k for p in doc["points"] for k in p["parameters"]})
    metrics = numeric_metric_names(p["metrics"] for p in doc["points"])
    lines = [
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
    table(["#", "point", "state", *names, *metrics, "output / error"], lines)


def table(header: list[str], rows: list[list]) -> None:
    header = [printable(h, lines=False) for h in header]
    rows = [[printable(c, lines=False) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


#: who or what started a run (core/document.py ``started_by`` kinds), for people
STARTED_BY = {
    "mvdp": "jupyter-mvdp",
    "schedule": "schedule",
    "ui": "Airflow UI",
    "api": "Airflow API",
    "cli": "Airflow CLI",
    "asset": "asset event",
    "backfill": "backfill",
    "operator": "another DAG",
    "other": "Airflow",
}


def started_by(who: dict) -> str:
    label = STARTED_BY.get(who.get("kind"), str(who.get("kind")))
    return (
        f"{label} ({who['user']})" if who.get("user") and who.get("kind") != "schedule" else label
    )


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) if at else ""


def print_history(doc: dict) -> None:
    """A pipeline over time: where it is deployed, its champion, each run newest first,
    and every change of champion."""
    say(f"pipeline {doc['pipeline']}")
    for d in doc["deployed"]:
        schedule = f"schedule {d['schedule']}" if d["schedule"] else "no schedule"
        say(f"deployed on {d['target']} ({schedule}) at {_when(d['deployed'])}: {d['notebook']}")
    champion = doc["champion"]
    if champion:
        say(
            f"champion: {champion['metric']} {format_value(champion['value'])} since "
            f"{_when(champion['at'])} (run {champion['run_id']}, point {champion['point_id']})"
        )
    else:
        say("champion: none yet")
    print()
    rows = [
        [
            _when(r["created"]),
            r["run_id"],
            started_by(r["started_by"]),
            r["state"],
            r["outcome"] or "",
            f"{r['metric']}={format_value(r['best']['value'])} {r['best']['id']}"
            if r["best"]
            else "",
            "★" if r["crowned"] else "",
            r["reason"] or r["message"] or "",
        ]
        for r in doc["runs"]
    ]
    table(["started", "run", "started by", "state", "outcome", "best", "champion", "why"], rows)
    if doc["champions"]:
        print()
        say("champions, newest first:")
        table(
            ["since", "metric", "value", "run", "point"],
            [
                [_when(c["at"]), c["metric"], format_value(c["value"]), c["run_id"], c["point_id"]]
                for c in doc["champions"]
            ],
        )
