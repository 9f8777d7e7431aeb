"""What the CLI prints of an A/B test: each variant's parameters and the spread of its
values, the difference with its interval, the p-value and the verdict in words (the run
document's ``ab``, computed by runtime.ab_verdict). Every line goes through ``say``."""

from __future__ import annotations

from statistics import median

from ..core.metrics import format_value
from .printing import say


def print_ab(ab: dict, reason: str | None = None) -> None:
    """``ab``: the run document's ``ab``; ``reason``: the run's (the verdict, and whether B
    was promoted)."""
    verdict = ab.get("verdict")
    for side in ("a", "b"):
        variant = ab["variants"][side]
        values = [v["value"] for v in variant["values"] if v["value"] is not None]
        shown = " ".join(f"{k}={format_value(v)}" for k, v in (variant["parameters"] or {}).items())
        spread = (
            f"min {min(values):.4g}  median {median(values):.4g}  max {max(values):.4g}"
            if values
            else "no value yet"
        )
        ran = len(variant["values"])
        say(
            f"{side.upper()}  {shown or '(the notebook defaults)'}  {len(values)}/{ran} values  {spread}"
        )
    if verdict is None:
        say("verdict: not yet (points still to run)")
        return
    if verdict["difference"] is not None and verdict["ci"]:
        lo, hi = verdict["ci"]
        say(
            f"B - A: {verdict['difference']:+.4g}  {1 - verdict['alpha']:.0%} CI "
            f"[{lo:+.4g}, {hi:+.4g}]  p = {verdict['p_value']:.3g}  ({verdict['method']})"
        )
    say(f"pairs: {verdict['pairs']} used, {verdict['dropped']} left out (a side failed)")
    say(f"verdict: {reason or verdict['reason']}")
