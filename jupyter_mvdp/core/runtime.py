"""The rules every runner shares: reading metrics, ranking, early stop, canary (stdlib only).

One copy: the local runner, the run document / leaderboard / ``best`` and the generated DAG
all call these functions. The deploy ships this file next to the DAG as
``mvdp_runtime_<digest>.py`` (Airflow puts the DAGs folder and bundle roots on ``sys.path``),
named by its content so two pipelines rendered by different versions never import each
other's rules. Keep it free of any import beyond the standard library and of package-relative
imports: in Airflow it is a top-level module.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import html
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

SCRAP_PREFIX = "application/scrapbook.scrap."  # scrapbook.glue: .json+json, .text+json, ...
SCRAP_MIMETYPE = SCRAP_PREFIX + "json+json"  # what jupyter_mvdp.record writes
RECORD_PREFIX = "application/papermill.record"  # papermill.record(), before scrapbook


# --- metrics recorded by a notebook ------------------------------------------------------


def read_metrics(nb: Mapping) -> dict[str, Any]:
    """Every scrap of an executed notebook (an nbformat node or the plain JSON document):
    scrapbook's JSON and text scraps (``glue(..., display=True)`` included) and
    ``papermill.record``; the last value recorded under a name wins, as in scrapbook.
    Scraps of other encoders (pandas: parquet bytes) are named with a placeholder; a scrap
    that is only displayed (no data) gives its text/plain form."""
    metrics: dict[str, Any] = {}
    shown: dict[str, Any] = {}
    for cell in _cells(nb):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs") or []:
            data = output.get("data") or {}
            for mimetype, payload in data.items():
                if mimetype.startswith(SCRAP_PREFIX) and isinstance(payload, Mapping):
                    if "name" in payload:
                        metrics[payload["name"]] = _decode(mimetype, payload.get("data"))
                elif mimetype.startswith(RECORD_PREFIX) and isinstance(payload, Mapping):
                    metrics.update(payload)
            scrap = (output.get("metadata") or {}).get("scrapbook") or {}
            if scrap.get("display") and not scrap.get("data") and "text/plain" in data:
                text = data["text/plain"]
                shown[scrap.get("name")] = "".join(text) if isinstance(text, list) else text
    found = {**{k: v for k, v in shown.items() if k is not None}, **metrics}
    return {str(k): json_safe(v) for k, v in found.items()}


def _decode(mimetype: str, value: Any) -> Any:
    encoder = mimetype[len(SCRAP_PREFIX) :].removesuffix("+json")
    if encoder == "json" and isinstance(value, str):  # scrapbook's JsonEncoder.decode
        try:  # strict JSON: the text "Infinity" or "NaN" stays text, never a number
            return json.loads(value, parse_constant=_not_a_number)
        except ValueError:
            return value
    if encoder in ("json", "text"):
        return value if encoder == "json" or isinstance(value, str) else str(value)
    return f"<{encoder} scrap>"


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: the largest integer a metric may be and still be a number (JSON clients read doubles)
LARGEST_INT = 2**53


def json_safe(value: Any) -> Any:
    """``value`` as strict JSON can carry it: a number that is not finite (NaN, ±inf) or an
    integer beyond ±2**53 becomes its text, inside lists and dicts too. What a notebook
    recorded is kept and shown; it just never reaches a client as a bare ``Infinity``."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= LARGEST_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return str(value)


def _cells(nb: Mapping) -> list:
    """Cells of a v4 notebook, or of every worksheet of a v3 one."""
    if "cells" in nb:
        return list(nb.get("cells") or [])
    return [c for ws in nb.get("worksheets") or [] for c in ws.get("cells") or []]


def read_metrics_text(text: str) -> dict[str, Any]:
    return read_metrics(json.loads(text))


def read_metrics_file(path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return read_metrics(json.load(f))


# --- ranking -------------------------------------------------------------------------------


def metric_value(metrics: Mapping[str, Any] | None, metric: str | None) -> float | None:
    """The metric from a point's metrics, when it is a finite number: never NaN, ±inf, a
    bool, text (not even "0.99") or an integer beyond ±2**53. Only these are ranked, decide
    an early stop or a canary, or make a point the best."""
    if not isinstance(metrics, Mapping) or metric is None:
        return None
    value = metrics.get(metric)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= LARGEST_INT else None
    return value if math.isfinite(value) else None


def is_better(a: float, b: float | None, goal: str) -> bool:
    return b is None or (a > b if goal == "max" else a < b)


def best(
    results: Iterable[tuple[Any, Mapping[str, Any] | None]], metric: str | None, goal: str = "max"
) -> tuple[Any, float] | None:
    """The (item, value) with the best metric among points that SUCCEEDED (the caller passes
    only those); ties go to the earliest item."""
    winner = None
    for item, metrics in results:
        value = metric_value(metrics, metric)
        if value is not None and (winner is None or is_better(value, winner[1], goal)):
            winner = (item, value)
    return winner


def leaderboard(
    points: Iterable[Mapping[str, Any]], metric: str | None, goal: str = "max"
) -> list[dict]:
    """Point documents with a ``rank``: succeeded points with the metric, best first; then
    every other point (failed, skipped, or without the metric) unranked, in its order. A
    failed point is never ranked, whatever it recorded before failing."""
    rows = [dict(p) for p in points]
    scored = [
        r
        for r in rows
        if r.get("state", "success") == "success"
        and metric_value(r.get("metrics"), metric) is not None
    ]
    chosen = {id(r) for r in scored}  # by identity: linear, whatever the grid's size
    rest = [r for r in rows if id(r) not in chosen]
    sign = -1 if goal == "max" else 1
    scored.sort(key=lambda r: sign * metric_value(r["metrics"], metric))
    for rank, row in enumerate(scored, 1):
        row["rank"] = rank
    for row in rest:
        row["rank"] = None
    return scored + rest


def unrecorded_warning(points: Iterable[Mapping[str, Any]], metric: str | None) -> str | None:
    """A warning when points finished but none recorded ``metric`` as a number."""
    done = [p for p in points if p.get("state") in ("success", "failed")]
    if (
        not metric
        or not done
        or any(metric_value(p.get("metrics"), metric) is not None for p in done)
    ):
        return None
    names = sorted({k for p in done for k in (p.get("metrics") or {})})
    seen = f"recorded: {', '.join(names)}" if names else "no point recorded any metric"
    return (
        f"No point recorded the metric {metric!r} as a number ({seen}); check the strategy's metric"
    )


def unranked_warning(points: Iterable[Mapping[str, Any]], metric: str | None) -> str | None:
    """A warning naming the points whose ``metric`` is there but is no finite number (text,
    NaN, infinite, too large): they are shown as recorded and never ranked."""
    if not metric:
        return None
    odd = [
        p
        for p in points
        if isinstance(p.get("metrics"), Mapping)
        and metric in p["metrics"]
        and metric_value(p["metrics"], metric) is None
    ]
    if not odd:
        return None
    shown = ", ".join(f"{p.get('id')} ({str(p['metrics'][metric])[:40]!r})" for p in odd[:5])
    more = f" and {len(odd) - 5} more" if len(odd) > 5 else ""
    return (
        f"{metric!r} is not a finite number at {shown}{more}: "
        "those points are shown as recorded and not ranked"
    )


# --- early stop ----------------------------------------------------------------------------


def budget(n_points: int, limit: int | None) -> int:
    """How many points may run at most."""
    return n_points if limit is None else min(limit, n_points)


def n_rounds(n_points: int, size: int, limit: int | None) -> int:
    """How many rounds of ``size`` points the budget allows (early stop)."""
    return -(-budget(n_points, limit) // max(1, size))


def round_slice(r: int, n_points: int, size: int, limit: int | None) -> tuple[int, int]:
    """(start, stop) in the ordered points of round ``r``: the next ``size`` points, within
    the budget. The one rule for the local runner, the DAG and the targets that follow it."""
    size = max(1, size)
    last = budget(n_points, limit)
    return min(r * size, last), min((r + 1) * size, last)


def reached(value: float | None, target: float | None, goal: str) -> bool:
    """Did ``value`` reach the target (at or above it for max, at or below it for min)?"""
    if value is None or target is None:
        return False
    return value >= target if goal == "max" else value <= target


def should_stop(
    metric: str | None,
    goal: str,
    target: float | None,
    best_value: float | None,
    ran: int,
    limit: int,
) -> tuple[bool, str | None]:
    """After a round: stop now? ``best_value`` is the best metric so far, ``limit`` the
    budget in points. Returns (stop, reason)."""
    if reached(best_value, target, goal):
        return True, f"{metric} {best_value:g} reached the target {target:g}"
    if ran >= limit:
        return True, f"the budget of {limit} points is spent"
    return False, None


# --- canary --------------------------------------------------------------------------------


def canary_decision(
    metric: str | None,
    goal: str,
    tolerance: float,
    baseline: float | None,
    fixed_baseline: bool,
    candidate: float | None,
) -> dict:
    """Deploy the candidate when it is no worse than the baseline minus the tolerance.
    ``fixed_baseline``: the plan's baseline (else the pipeline's last champion). Returns
    ``{"outcome": "deploy" | "alert", "reason", "value", "baseline"}``."""

    def decision(outcome: str, reason: str) -> dict:
        return {"outcome": outcome, "reason": reason, "value": candidate, "baseline": baseline}

    if candidate is None:
        return decision("alert", f"the candidate recorded no {metric} (did the notebook fail?)")
    if baseline is None:
        return decision("deploy", f"{metric} {candidate:g}: first model of this pipeline")
    tol = tolerance
    if goal == "max":
        ok, word, bound = candidate >= baseline - tol, "below", baseline - tol
    else:
        ok, word, bound = candidate <= baseline + tol, "above", baseline + tol
    source = "the baseline" if fixed_baseline else "the champion's"
    if ok:
        return decision(
            "deploy", f"{metric} {candidate:g} is within tolerance {tol:g} of {source} {baseline:g}"
        )
    return decision(
        "alert",
        f"{metric} {candidate:g} is {word} {source} {baseline:g} (tolerance {tol:g}, bound {bound:g})",
    )


# --- optimize: Bayesian optimization in rounds (Optuna, imported only when asked) ----------

#: the samplers a plan may name: those Optuna runs without further packages
OPTIMIZE_SAMPLERS = ("tpe", "random")
OPTUNA_LOCAL = "pip install 'jupyter-mvdp[optimize]'"  # what the local side lacks
OPTUNA_WORKERS = "the Airflow workers need optuna: add optuna>=4 to their Python environment"


def optimize_slots(budget: int) -> list[str]:
    """The ids of an optimize run's points, in order: slots whose parameters each round's
    ask decides (a run and its DAG know how many points there may be, not which)."""
    return [f"opt-{i:04d}" for i in range(budget)]


def _optuna(missing: str):
    try:
        import optuna
    except ImportError:
        raise RuntimeError(f"the optimize strategy needs optuna: {missing}") from None
    return optuna


def _distributions(optuna: Any, space: Mapping[str, Mapping[str, Any]]) -> dict:
    """Optuna's distribution of each free dimension (``fixed`` ones are not searched), by
    name: the space's key order is not part of the decision (a DAG embeds it sorted). A
    categorical dimension is searched by index, so any JSON value can be a choice."""
    d = optuna.distributions
    found = {}
    for name, dim in sorted(space.items()):
        kind = dim["type"]
        if kind == "float":
            found[name] = d.FloatDistribution(dim["low"], dim["high"], log=bool(dim.get("log")))
        elif kind == "int":
            step = 1 if dim.get("log") else int(dim.get("step") or 1)
            found[name] = d.IntDistribution(
                int(dim["low"]), int(dim["high"]), log=bool(dim.get("log")), step=step
            )
        elif kind == "categorical":
            found[name] = d.CategoricalDistribution(list(range(len(dim["choices"]))))
    return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _internal(space: Mapping, dists: Mapping, parameters: Mapping[str, Any]) -> dict | None:
    """A point's parameters as the study's values (None: the point is not of this space)."""
    found = {}
    for name, dist in dists.items():
        if name not in parameters:
            return None
        value, dim = parameters[name], space[name]
        if dim["type"] == "categorical":
            keys = [_canonical(c) for c in dim["choices"]]
            if _canonical(value) not in keys:
                return None
            value = keys.index(_canonical(value))
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if not dist._contains(dist.to_internal_repr(value)):
            return None
        found[name] = value
    return found


def _external(space: Mapping, params: Mapping[str, Any]) -> dict:
    """The parameters a notebook gets: the asked values (ints as ints, a categorical's
    choice itself) and the fixed ones, in the space's order."""
    out = {}
    for name, dim in space.items():
        if dim["type"] == "fixed":
            out[name] = dim["value"]
        elif dim["type"] == "categorical":
            out[name] = dim["choices"][params[name]]
        elif dim["type"] == "int":
            out[name] = int(params[name])
        else:
            out[name] = float(params[name])
    return out


def optimize_seed(seed: int, r: int) -> int:
    """The sampler's seed for round ``r``: stable in every process, within numpy's range."""
    return int(hashlib.sha256(f"{seed}:{r}".encode()).hexdigest()[:8], 16)


def optimize_study(
    space: Mapping[str, Mapping[str, Any]],
    history: Iterable[Mapping[str, Any]],
    *,
    metric: str | None,
    goal: str = "max",
    sampler: str = "tpe",
    seed: int = 0,
    r: int = 0,
    startup: int = 10,
    missing: str = OPTUNA_LOCAL,
):
    """An Optuna study rebuilt from ``history`` (``{"parameters", "state", "metrics"}`` of
    the points that ran, in order): a point that succeeded with a finite metric is told as
    COMPLETE, any other that ran (failed, or without a finite metric) as FAIL; points that
    did not run are left out. The sampler is seeded by (seed, r), so the same history asks
    the same points in any process: locally and on Airflow alike. ``startup``: how many
    points TPE draws at random before it models (callers pass the round size: the first
    round is the random start, every later one is modelled)."""
    optuna = _optuna(missing)
    if sampler not in OPTIMIZE_SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r} (known: {', '.join(OPTIMIZE_SAMPLERS)})")
    s = optimize_seed(seed, r)
    import warnings

    with warnings.catch_warnings():  # constant_liar is "experimental" in Optuna's words
        warnings.simplefilter("ignore")
        chosen = (
            optuna.samplers.RandomSampler(seed=s)
            if sampler == "random"
            # constant_liar: points asked together (one round) spread out
            else optuna.samplers.TPESampler(
                seed=s, constant_liar=True, n_startup_trials=max(2, startup)
            )
        )
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not a line per rebuilt study
    try:
        study = optuna.create_study(
            sampler=chosen, direction="maximize" if goal == "max" else "minimize"
        )
    finally:
        optuna.logging.set_verbosity(verbosity)
    dists = _distributions(optuna, space)
    complete, fail = optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL
    for point in history:
        state = point.get("state")
        if state not in ("success", "failed"):
            continue
        params = _internal(space, dists, point.get("parameters") or {})
        if params is None:
            continue
        value = metric_value(point.get("metrics"), metric) if state == "success" else None
        study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions=dists,
                value=value,
                state=complete if value is not None else fail,
            )
        )
    return study


def optimize_ask(
    space: Mapping[str, Mapping[str, Any]],
    history: Iterable[Mapping[str, Any]],
    n: int,
    **options: Any,
) -> list[dict]:
    """The next ``n`` points' parameters, given every point of the earlier rounds
    (``history``; ``options``: optimize_study's). The one decision of the optimize
    strategy: the local runner and the DAG's ask tasks both call it."""
    study = optimize_study(space, history, **options)
    dists = _distributions(_optuna(options.get("missing", OPTUNA_LOCAL)), space)
    asked = []
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(n):
            trial = study.ask(dists)
            asked.append(_external(space, trial.params))
    return asked


# --- A/B test ------------------------------------------------------------------------------

#: point ids of an A/B test start with their variant: "a-…" or "b-…"
AB_VARIANTS = ("a", "b")
#: up to this many pairs the sign-flip permutation test is exact (2**16 sign vectors);
#: above it, the paired t-test
AB_EXACT_MAX = 16
AB_EXACT = "exact sign-flip permutation test"
AB_T_TEST = "paired t-test"


def ab_variant(point_id: Any) -> str | None:
    """``"a"`` or ``"b"``: the variant an A/B test's point belongs to (its id's prefix)."""
    head = str(point_id).split("-", 1)[0]
    return head if head in AB_VARIANTS and str(point_id).startswith(head + "-") else None


def ab_pairs(
    points: Iterable[Mapping[str, Any]], metric: str | None, replicate: str
) -> tuple[list[tuple[Any, float, float]], int]:
    """``([(replicate value, a, b)], dropped)``: the pairs of an A/B test's points
    (``{"id", "state", "parameters", "metrics"}``) that share a replicate value and where
    both sides succeeded with a finite ``metric``; ``dropped`` counts the other pairs (a side
    failed, was skipped or recorded no finite number). In replicate order of appearance."""
    sides: dict[str, dict[str, float | None]] = {}
    order: dict[str, Any] = {}
    for p in points:
        variant = ab_variant(p.get("id"))
        if variant is None:
            continue
        value = (p.get("parameters") or {}).get(replicate)
        key = json.dumps(value, sort_keys=True)
        order.setdefault(key, value)
        ok = p.get("state", "success") == "success"
        sides.setdefault(key, {})[variant] = metric_value(p.get("metrics"), metric) if ok else None
    pairs, dropped = [], 0
    for key, value in order.items():
        a, b = sides[key].get("a"), sides[key].get("b")
        if a is None or b is None:
            dropped += 1
        else:
            pairs.append((value, a, b))
    return pairs, dropped


def ab_min_pairs(alpha: float) -> int:
    """The fewest pairs that can show a difference at ``alpha``: the exact test's smallest
    two-sided p-value with n pairs is 2 / 2**n. Fewer pairs are inconclusive, never a win."""
    n = 2
    while 2.0 ** (1 - n) > alpha:
        n += 1
    return n


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _sign_flip(diffs: list[float], alpha: float) -> tuple[float, list[float] | None]:
    """(two-sided p-value, confidence interval) of the exact sign-flip permutation test of
    the mean difference: every one of the 2**n sign vectors is counted. The interval is
    Hartigan's (1969): the k-th smallest and largest of the 2**n - 1 subset means, k =
    floor(alpha * 2**(n-1)), which covers the true shift with probability 1 - 2k / 2**n
    (None when k is 0: too few pairs to bound it)."""
    total = math.fsum(diffs)
    sums, sizes = [0.0], [0]
    for d in diffs:  # every subset's sum and size, by doubling
        sums += [s + d for s in sums]
        sizes += [k + 1 for k in sizes]
    # flipping the signs of subset S gives the statistic total - 2 * sum(S)
    edge = abs(total) * (1 - 1e-12) - 1e-12 * (1 + max(map(abs, diffs)))
    extreme = sum(1 for s in sums if abs(total - 2 * s) >= edge)
    p = extreme / len(sums)
    k = math.floor(alpha * len(sums) / 2)
    if k == 0:
        return p, None
    means = sorted(s / n for s, n in zip(sums, sizes, strict=True) if n)
    return p, [means[k - 1], means[-k]]


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularized incomplete beta (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + num * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-15:
            break
    return h


def incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return front * _betacf(a, b, x) / a
    return 1 - front * _betacf(b, a, 1 - x) / b


def t_sf2(t: float, df: float) -> float:
    """Two-sided tail of Student's t: P(|T| >= |t|) with ``df`` degrees of freedom."""
    return incomplete_beta(df / 2, 0.5, df / (df + t * t))


@functools.lru_cache(maxsize=256)
def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = q (0.5 < q < 1), by bisection on the tail."""
    lo, hi = 0.0, 1.0
    while t_sf2(hi, df) > 2 * (1 - q):
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_sf2(mid, df) > 2 * (1 - q) else (lo, mid)
    return (lo + hi) / 2


def _t_test(diffs: list[float], alpha: float) -> tuple[float, list[float]]:
    """(two-sided p-value, 1 - alpha confidence interval) of the paired t-test."""
    n, mean = len(diffs), _mean(diffs)
    se = math.sqrt(math.fsum((d - mean) ** 2 for d in diffs) / (n - 1) / n)
    half = t_quantile(1 - alpha / 2, n - 1) * se
    if se == 0:
        return (1.0 if mean == 0 else 0.0), [mean, mean]
    return t_sf2(mean / se, n - 1), [mean - half, mean + half]


def ab_test(diffs: list[float], alpha: float) -> dict:
    """The paired test of the differences B - A: ``{"method", "p_value", "ci"}``, the exact
    sign-flip permutation test up to AB_EXACT_MAX pairs, else the paired t-test."""
    if len(diffs) <= AB_EXACT_MAX:
        p, ci = _sign_flip(diffs, alpha)
        return {"method": AB_EXACT, "p_value": p, "ci": ci}
    p, ci = _t_test(diffs, alpha)
    return {"method": AB_T_TEST, "p_value": p, "ci": ci}


def ab_verdict(
    points: Iterable[Mapping[str, Any]],
    metric: str | None,
    goal: str,
    replicate: str,
    alpha: float,
) -> dict:
    """Is B better than A on ``metric``, or is the difference noise? Pairs up the points by
    their ``replicate`` value (``ab_pairs``) and tests the differences B - A at ``alpha``.
    Returns ``{"verdict": "B better" | "A better" | "no significant difference" |
    "inconclusive", "reason", "method", "p_value", "difference" (mean B - A), "ci",
    "pairs", "dropped", "mean_a", "mean_b", "alpha", "metric", "goal"}``."""
    pairs, dropped = ab_pairs(points, metric, replicate)
    n = len(pairs)
    out: dict[str, Any] = {
        "verdict": "inconclusive",
        "method": None,
        "p_value": None,
        "difference": None,
        "ci": None,
        "pairs": n,
        "dropped": dropped,
        "mean_a": _mean([a for _, a, _ in pairs]) if pairs else None,
        "mean_b": _mean([b for _, _, b in pairs]) if pairs else None,
        "alpha": alpha,
        "metric": metric,
        "goal": goal,
    }
    lost = f"; {dropped} pair{'s' * (dropped != 1)} left out (a side failed)" if dropped else ""
    least = ab_min_pairs(alpha)
    if n:
        out["difference"] = _mean([b - a for _, a, b in pairs])
    if n < least:
        out["reason"] = (
            f"inconclusive: {n} complete pair{'s' * (n != 1)} of {metric}, at least {least} are "
            f"needed to show a difference at alpha {alpha:g}{lost}"
        )
        return out
    out.update(ab_test([b - a for _, a, b in pairs], alpha))
    diff, p = out["difference"], out["p_value"]
    if p <= alpha and diff != 0:
        out["verdict"] = "B better" if (diff > 0) == (goal == "max") else "A better"
    else:
        out["verdict"] = "no significant difference"
    ci = out["ci"]
    interval = f" ({1 - alpha:.0%} CI {ci[0]:+.4g} .. {ci[1]:+.4g})" if ci else ""
    out["reason"] = (
        f"{out['verdict']}: {metric} B - A = {diff:+.4g}{interval}, p = {p:.3g} "
        f"({out['method']}, {n} pairs, alpha {alpha:g}){lost}"
    )
    return out


# --- notices (the plan's ``notify``) -------------------------------------------------------

_NOTICE_TITLES = {
    "canary_alert": "canary alert on {pipeline}: the new model is not deployed",
    "canary_deployed": "{pipeline}: a new model is deployed",
    "run_failed": "run {run_id} of {pipeline} failed",
    "run_succeeded": "run {run_id} of {pipeline} succeeded",
}
_OUTCOMES = {
    "canary_alert": "alert (the candidate is not deployed)",
    "canary_deployed": "deploy (the candidate is the new champion)",
}


def _one_line(text: Any, limit: int = 300) -> str:
    """``text`` on one line (a mail header, a chat title): control characters become spaces."""
    flat = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(text))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def notice(
    event: str,
    pipeline: str,
    run_id: str,
    *,
    metric: str | None = None,
    best: Mapping[str, Any] | None = None,
    reason: str | None = None,
    state: str | None = None,
    outcome: str | None = None,
) -> dict:
    """What the plan's channels are told of ``event`` (``canary_alert``, ``canary_deployed``,
    ``run_failed``, ``run_succeeded``): ``subject`` and ``text`` for people, and the facts as
    data (a webhook posts the whole document). ``best``: the best point, ``{"id",
    "parameters", "value"}`` (its ``metric``). The one message of the DAG's notifiers and the
    local target alike."""
    best = dict(best) if best else None
    lines = [f"Pipeline: {pipeline}", f"Run: {run_id}"]
    if event in _OUTCOMES:
        lines.append(f"Outcome: {_OUTCOMES[event]}")
    elif state:
        lines.append(f"State: {state}")
    if reason:
        lines.append(f"Reason: {reason}")
    if best:
        values = ", ".join(
            f"{k}={json.dumps(v, ensure_ascii=False)}"
            for k, v in (best.get("parameters") or {}).items()
        )
        lines.append(f"Best point: {best.get('id')} ({values or 'the notebook defaults'})")
        value = metric_value({"v": best.get("value")}, "v")
        if metric:
            lines.append(f"{metric}: {'none recorded' if value is None else format(value, 'g')}")
    else:
        lines.append("Best point: none (no point succeeded with the metric)" if metric else "")
    title = _NOTICE_TITLES.get(event, "{pipeline}: " + str(event))
    return {
        "event": event,
        "pipeline": pipeline,
        "run_id": run_id,
        "state": state,
        "outcome": outcome,
        "reason": reason,
        "metric": metric,
        "best": json_safe(best),
        "subject": "[jupyter-mvdp] " + _one_line(title.format(pipeline=pipeline, run_id=run_id)),
        "text": "\n".join(line for line in lines if line) + "\n",
    }


def notice_html(message: Mapping[str, Any]) -> str:
    """The notice's text as the body of an HTML mail (escaped: it holds notebook values)."""
    return f"<pre>{html.escape(message['text'])}</pre>"


# --- kernel starts -------------------------------------------------------------------------

KERNEL_STARTS = 3
# nbclient's words for a kernel that exited before answering kernel_info (seen when many
# start at once, on one machine or one Airflow worker: two picking the same free port)
_DIED_STARTING = "Kernel died before replying to kernel_info"


def starting_kernels_again(execute: Callable[[], T], say: Callable[[str], None]) -> T:
    """``execute()`` (one papermill run), again with a new kernel when the kernel died while
    starting, up to KERNEL_STARTS times: no cell ran, so this never runs work twice."""
    for _ in range(KERNEL_STARTS - 1):
        try:
            return execute()
        except RuntimeError as e:
            if not str(e).startswith(_DIED_STARTING):
                raise
            say(f"the kernel died while starting ({e}); starting another")
    return execute()


# --- what ran: the notebook's bytes, its working copy, its provenance ---------------------

INJECTED_TAG = "injected-parameters"  # the cell papermill adds after the parameters cell
ENGINE = "mvdp"  # the papermill engine execute_notebook registers (nbclient's, plus versions)
_READY = ".mvdp-complete"  # the last file a working copy gets: it is whole


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_injected(nb: Any) -> Any:
    """The notebook without the ``injected-parameters`` cells an earlier papermill run left:
    run as is (an empty grid, a canary of the defaults) it must use its own defaults, not the
    stale injected values, so that what ran is what the run says."""
    nb["cells"] = [
        c
        for c in nb.get("cells") or []
        if INJECTED_TAG not in ((c.get("metadata") or {}).get("tags") or [])
    ]
    return nb


def imported_modules(sources: Iterable[str]) -> list[str]:
    """Modules imported by code cells' ``sources``, in order of appearance: ``import a.b``
    gives ``a.b``, ``from a.b import c`` gives ``a.b`` and ``a.b.c`` (it may be a module).
    IPython lines (``%magic``, ``!shell``) are dropped first; a cell that does not parse is
    skipped."""
    names: list[str] = []
    for source in sources:
        text = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in (source or "").splitlines()
        )
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
                found = [n for n in found if not n.endswith(".*")]
            else:
                continue
            names.extend(n for n in found if n not in names)
    return names


def top_level_packages(modules: Iterable[str]) -> list[str]:
    """The top-level names of ``modules`` (``sklearn`` of ``sklearn.metrics``), sorted; the
    kernel leaves out its own standard library when it reports their versions."""
    return sorted({m.split(".")[0] for m in modules} - {"__future__", "__main__"})


# Run in the kernel by versions_expression, in a namespace of its own (never the notebook's):
# the distribution version of each top-level package the notebook imports, as this kernel
# sees it (else the module's own __version__ when it is imported), and the kernel's Python.
_VERSIONS_SOURCE = """
import importlib.metadata as md, json, sys
std = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
dists = None
def owner(name):
    try:  # the distribution of the same name, if it holds the module (pandas)
        dist = md.distribution(name)
        if any(f.parts[0] in (name, name + ".py") for f in dist.files or ()):
            return dist.version
    except Exception:
        pass
def version(name):
    global dists
    found = owner(name) or getattr(sys.modules.get(name), "__version__", None)
    if found is not None:
        return str(found)
    if dists is None:  # every distribution's files, read once and only if needed (~0.15 s)
        try:
            dists = md.packages_distributions()
        except Exception:
            dists = {}
    for dist in dists.get(name, ()):
        try:
            return md.version(dist)
        except Exception:
            pass
    return None
result = json.dumps({
    "python": sys.version.split()[0],
    "packages": {n: version(n) for n in names if n not in std},
})
"""


def versions_expression(packages: Iterable[str]) -> str:
    """One Python expression for an ``execute_request``'s ``user_expressions``: a silent
    request (no cell, no output, nothing left in the notebook's namespace) answered with the
    kernel's versions (``read_versions``)."""
    names = [p for p in packages if p.isidentifier()]
    return (
        "(lambda ns: __import__('builtins').exec(ns.pop('source'), ns) or ns['result'])"
        f"({{'source': {_VERSIONS_SOURCE!r}, 'names': {names!r}}})"
    )


def read_versions(content: Mapping | None) -> dict | None:
    """``{"python", "packages"}`` from the kernel's execute_reply to versions_expression
    (None when the kernel could not say: another language, an error)."""
    found = ((content or {}).get("user_expressions") or {}).get("versions") or {}
    if found.get("status") != "ok":
        return None
    try:
        doc = json.loads(ast.literal_eval((found.get("data") or {}).get("text/plain", "")))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("packages"), dict):
        return None
    packages = {str(k): None if v is None else str(v) for k, v in doc["packages"].items()}
    return {"python": str(doc.get("python")), "packages": packages}


def provenance(
    *,
    run_id: str,
    pipeline: str,
    point_id: str,
    parameters: Mapping[str, Any],
    input: str,
    input_sha256: str,
    kernel: str | None,
    target: str,
) -> dict:
    """What an output notebook says about itself in ``metadata.mvdp``, the same on every
    target: the run, pipeline, point and parameters, the input notebook (its path relative to
    the server root and the sha256 of the bytes that ran), the kernel and the target.
    ``versions`` (Python, papermill, the top-level packages the notebook imports) is filled
    by ``execute_notebook``, from the kernel that ran the notebook."""
    return {
        "run_id": run_id,
        "pipeline": pipeline,
        "point_id": point_id,
        "parameters": json_safe(dict(parameters)),
        "input": input,
        "input_sha256": input_sha256,
        "kernel": kernel,
        "target": target,
        "versions": {"python": None, "papermill": None, "packages": {}},
    }


def execute_notebook(
    papermill: Any,
    nbformat: Any,
    input_path: str,
    output_path: str,
    *,
    input_sha256: str | None,
    provenance: Mapping[str, Any],
    **options: Any,
) -> Any:
    """Run one point with ``papermill.execute_notebook`` (``options``: its arguments): the
    notebook at ``input_path`` is read once and runs only if those bytes are the ones
    ``input_sha256`` names (None: a DAG rendered to run a notebook where it is, named by no
    digest), and the provenance names the bytes read: it never names another notebook. Its
    stale injected cells are dropped, ``metadata.mvdp`` is ``provenance``, papermill records
    ``input_path`` (a path, not a copy of the notebook), and once the cells ran the kernel is
    asked for its versions with a silent request (no cell is added to the output).
    ``papermill`` and ``nbformat`` are the caller's modules: this file imports neither."""
    with open(input_path, "rb") as f:
        data = f.read()
    found = sha256_of(data)
    if input_sha256 is not None and found != input_sha256:
        raise RuntimeError(
            f"{os.path.basename(input_path)} is not the notebook this run was started with "
            f"(sha256 {found[:12]}…, expected {input_sha256[:12]}…): nothing ran; run it again"
        )
    nb = nbformat.from_dict(nbformat.reads(data.decode("utf-8"), as_version=4))
    drop_injected(nb)
    meta = json.loads(json.dumps(dict(provenance)))
    meta["input_sha256"] = found  # the bytes read (those named, when a digest names them)
    meta.setdefault("versions", {})["papermill"] = getattr(papermill, "__version__", None)
    nb.metadata["mvdp"] = meta
    code = [c.get("source", "") for c in nb.cells if c.get("cell_type") == "code"]
    papermill.engines.papermill_engines.register(ENGINE, _engine(papermill))
    return papermill.execute_notebook(
        nb,
        output_path,
        engine_name=ENGINE,
        mvdp_input_path=input_path,
        mvdp_packages=top_level_packages(imported_modules(code)),
        **options,
    )


_ENGINES: dict[int, Any] = {}


def _engine(papermill: Any) -> Any:
    """papermill's nbclient engine (one class per papermill module), which writes the input's
    path where papermill writes it and asks the kernel for its versions after the cells."""
    if id(papermill) in _ENGINES:
        return _ENGINES[id(papermill)]
    engines, utils = papermill.engines, papermill.utils

    class Client(papermill.clientwrap.PapermillNotebookClient):
        mvdp_packages: tuple = ()

        def papermill_execute_cells(self):
            super().papermill_execute_cells()  # a failed cell returns here too (it is saved)
            versions = self._kernel_versions()
            meta = self.nb.metadata.get("mvdp")
            if versions is not None and isinstance(meta, dict):
                meta["versions"] = {**(meta.get("versions") or {}), **versions}

        def _kernel_versions(self) -> dict | None:
            expression = versions_expression(self.mvdp_packages)
            timeout, self.timeout = self.timeout, 60
            try:
                msg_id = self.kc.execute(
                    "",
                    silent=True,
                    store_history=False,
                    user_expressions={"versions": expression},
                    allow_stdin=False,
                )
                return read_versions(self.wait_for_reply(msg_id)["content"])
            except Exception:  # a dead kernel, another language: the output says nothing
                return None
            finally:
                self.timeout = timeout

    class Engine(engines.NBClientEngine):
        @classmethod
        def execute_notebook(cls, nb, kernel_name, mvdp_input_path=None, **kwargs):
            nb.metadata.papermill["input_path"] = mvdp_input_path  # not the node papermill had
            return super().execute_notebook(nb, kernel_name, **kwargs)

        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man,
            kernel_name,
            log_output=False,
            stdout_file=None,
            stderr_file=None,
            start_timeout=60,
            execution_timeout=None,
            mvdp_packages=(),
            **kwargs,
        ):
            # NBClientEngine's own, with the client above
            kwargs = utils.remove_args(["input_path"], **kwargs)
            safe_kwargs = utils.remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = utils.merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=papermill.log.logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = Client(nb_man, **final_kwargs)
            client.mvdp_packages = tuple(mvdp_packages)
            return client.execute()

    _ENGINES[id(papermill)] = Engine
    return Engine


def safe_relative(path: str) -> str:
    """``path`` when it is a plain relative path (``/``-separated, no ``..``, no absolute or
    empty part): what a working copy may write, whatever a store holds."""
    parts = str(path).split("/")
    if (
        not path
        or "\\" in path
        or "\0" in path
        or path.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
    ):
        raise ValueError(f"{path!r} is not a relative path inside the notebook's folder")
    return path


def working_copy(folder: str, entries: Iterable[Mapping[str, Any]], source: Callable) -> str:
    """``folder`` holding each of ``entries`` (``{"path", "sha256"}``: the notebook, the
    files it reads) at its path, copied from ``source(sha256)`` (a context manager giving the
    stored bytes, e.g. ``fsspec.open(url, "rb")``) and checked against its sha256. Made once:
    built aside and renamed whole, so the points of a run on one worker share it and a later
    deploy never changes a file under a running point."""
    if os.path.exists(os.path.join(folder, _READY)):
        return folder
    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    building = tempfile.mkdtemp(prefix=".building-", dir=parent)
    try:
        for entry in entries:
            relative = safe_relative(entry["path"])
            dest = os.path.join(building, *relative.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            digest = hashlib.sha256()
            with source(entry["sha256"]) as src, open(dest, "wb") as out:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != entry["sha256"]:
                raise RuntimeError(
                    f"{relative}: the stored copy is not the file deployed "
                    f"(sha256 {digest.hexdigest()[:12]}…, expected {entry['sha256'][:12]}…)"
                )
        with open(os.path.join(building, _READY), "w"):
            pass
        try:
            os.rename(building, folder)
        except OSError:  # another point of the run made it first
            if not os.path.exists(os.path.join(folder, _READY)):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder
