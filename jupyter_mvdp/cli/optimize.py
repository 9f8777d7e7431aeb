"""What the CLI prints of an optimize run: the best point found, the history in short (where
the best so far improved, and each point's value) and Optuna's parameter importance (the run
document's ``optimize``, core/optimize.py). Every line goes through ``say``."""

from __future__ import annotations

from ..core.metrics import format_value
from .printing import say

#: the last points whose values are printed in order
SHOWN = 40


def print_optimize(doc: dict) -> None:
    found, strategy = doc["optimize"], doc["strategy"]
    metric = strategy.get("metric")
    history = found["history"]
    failed = sum(h["state"] == "failed" for h in history)
    say(
        f"optimize: {found['sampler']} sampler, seed {strategy.get('seed', 0)}: "
        f"{len(history)} of {strategy.get('budget')} points run"
        + (f" ({failed} failed)" if failed else "")
    )
    best = doc.get("best")
    if best:
        values = " ".join(f"{k}={format_value(v)}" for k, v in best["parameters"].items())
        say(f"best: {metric}={format_value(best['metrics'].get(metric))} at {best['id']}  {values}")
    else:
        say(f"best: none yet (no point recorded {metric} as a number)")
    steps, last = [], None
    for h in history:
        if h["best"] is not None and h["best"] != last:
            steps.append(f"{format_value(h['best'])} (point {h['index'] + 1})")
            last = h["best"]
    if steps:
        say("best so far: " + " -> ".join(steps))
    if history:
        shown = history[-SHOWN:]
        earlier = f"({len(history) - len(shown)} earlier) " if len(history) > len(shown) else ""
        values = " ".join(
            "failed" if h["value"] is None else format_value(h["value"]) for h in shown
        )
        say(f"values in order: {earlier}{values}")
    if found.get("importance"):
        shown = ", ".join(f"{k} {v:.2f}" for k, v in found["importance"].items())
        say(f"parameter importance (Optuna): {shown}")
