"""The A/B test: the runtime's paired test on thousands of simulated pairs (power with a known
effect, false positives with A = B), its verdict's parts, and the plan's points and checks."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from jupyter_mvdp.core import abtest, runtime
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Parameter, Plan, Point, Strategy
from jupyter_mvdp.exceptions import InvalidPlan

SIMULATIONS = 2000


def docs(a: list, b: list, states=None) -> list[dict]:
    """Point documents of an A/B test: replicate i of A scored a[i], of B b[i]."""
    out = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        for side, value in (("a", x), ("b", y)):
            state = (states or {}).get((side, i), "success")
            out.append(
                {
                    "id": f"{side}-{i:010x}",
                    "state": state,
                    "parameters": {"seed": i},
                    "metrics": {"score": value},
                }
            )
    return out


def simulate(rng: random.Random, n: int, effect: float, shared: float = 1.0, own: float = 1.0):
    """n pairs: a part shared by the pair (the seed's), plus each side's own noise; B is
    ``effect`` above A on average."""
    a, b = [], []
    for _ in range(n):
        common = rng.gauss(0, shared)
        a.append(common + rng.gauss(0, own))
        b.append(common + effect + rng.gauss(0, own))
    return a, b


def verdict(a, b, alpha=0.05, goal="max", states=None) -> dict:
    return runtime.ab_verdict(docs(a, b, states), "score", goal, "seed", alpha)


def normal_power(effect: float, sd: float, n: int, alpha: float) -> float:
    """The paired z-test's power (the t-test's large-sample power), one direction."""
    z = statistics_z(1 - alpha / 2)
    return 0.5 * math.erfc(-(effect * math.sqrt(n) / sd - z) / math.sqrt(2))


def statistics_z(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


@pytest.mark.parametrize(
    ("n", "effect", "method"),
    [(12, 1.4, runtime.AB_EXACT), (40, 0.85, runtime.AB_T_TEST)],
)
def test_a_known_effect_is_found_at_the_stated_power(n, effect, method):
    """B is better by ``effect`` (the differences' sd is sqrt(2)), a design of power 0.8 at
    alpha 0.05 (the z-test's power, an upper bound for the t and the exact test, is above
    0.9): the test says "B better" at least that often, less three standard errors, and "A
    better" almost never."""
    assert normal_power(effect, math.sqrt(2), n, 0.05) > 0.9
    stated = 0.8
    rng = random.Random(27)
    found = [verdict(*simulate(rng, n, effect)) for _ in range(SIMULATIONS)]
    assert {f["method"] for f in found} == {method}
    rate = sum(f["verdict"] == "B better" for f in found) / SIMULATIONS
    se = math.sqrt(stated * (1 - stated) / SIMULATIONS)
    assert rate >= stated - 3 * se, (rate, stated)
    assert sum(f["verdict"] == "A better" for f in found) / SIMULATIONS < 0.025


@pytest.mark.parametrize(("n", "alpha"), [(10, 0.05), (12, 0.1), (30, 0.05), (60, 0.2)])
def test_with_a_equal_b_false_positives_stay_within_alpha(n, alpha):
    """A = B over many seeds: "B better" or "A better" at a rate within alpha plus sampling
    error, and not far below it either (the test is not needlessly timid)."""
    rng = random.Random(1000 + n)
    found = [verdict(*simulate(rng, n, 0.0), alpha=alpha) for _ in range(SIMULATIONS)]
    rate = sum(f["verdict"] in ("A better", "B better") for f in found) / SIMULATIONS
    se = math.sqrt(alpha * (1 - alpha) / SIMULATIONS)
    assert alpha - 4 * se <= rate <= alpha + 3 * se, (rate, alpha)
    assert {f["verdict"] for f in found} <= {"A better", "B better", "no significant difference"}


@pytest.mark.parametrize("n", [8, 13, 25])
def test_the_interval_covers_the_true_difference(n):
    """The 1 - alpha interval of the mean difference covers the true effect about as often."""
    rng = random.Random(n)
    effect, hits, runs = 0.7, 0, 500
    for _ in range(runs):
        lo, hi = verdict(*simulate(rng, n, effect))["ci"]
        hits += lo <= effect <= hi
    assert hits / runs >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / runs)


def test_the_exact_p_value_counts_every_sign_vector():
    rng = random.Random(5)
    diffs = [rng.gauss(0.3, 1) for _ in range(9)]
    observed = abs(sum(diffs))
    flips = list(itertools.product((1, -1), repeat=len(diffs)))
    extreme = sum(
        abs(sum(s * d for s, d in zip(signs, diffs, strict=True))) >= observed - 1e-12
        for signs in flips
    )
    found = runtime.ab_test(diffs, 0.05)
    assert found["method"] == runtime.AB_EXACT
    assert found["p_value"] == pytest.approx(extreme / len(flips))


def test_the_t_distribution_matches_its_tables():
    # two-sided 5% critical values of Student's t
    for df, t in (
        (1, 12.7062),
        (2, 4.3027),
        (5, 2.5706),
        (10, 2.2281),
        (30, 2.0423),
        (120, 1.9799),
    ):
        assert runtime.t_quantile(0.975, df) == pytest.approx(t, abs=1e-4)
        assert runtime.t_sf2(t, df) == pytest.approx(0.05, abs=1e-5)
    assert runtime.t_sf2(0.0, 7) == pytest.approx(1.0)


def test_the_t_test_agrees_with_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(9)
    for n in (17, 31, 200):
        diffs = [rng.gauss(0.2, 1) for _ in range(n)]
        found = runtime.ab_test(diffs, 0.05)
        assert found["method"] == runtime.AB_T_TEST
        assert found["p_value"] == pytest.approx(stats.ttest_1samp(diffs, 0).pvalue, rel=1e-6)


def test_the_verdict_names_the_winner_by_the_goal():
    a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    b = [x + 1 + 0.01 * i for i, x in enumerate(a)]
    high = verdict(a, b)
    assert high["verdict"] == "B better"
    assert high["difference"] == pytest.approx(1.035)
    assert high["p_value"] == pytest.approx(2 / 2**8)
    assert high["pairs"] == 8 and high["dropped"] == 0
    assert high["reason"].startswith("B better: score B - A = +1.035")
    assert "exact sign-flip permutation test, 8 pairs" in high["reason"]
    assert verdict(a, b, goal="min")["verdict"] == "A better"
    assert verdict(b, a)["verdict"] == "A better"


def test_no_difference_when_equal_and_inconclusive_when_too_few_pairs():
    same = verdict([1.0] * 10, [1.0] * 10)
    assert same["verdict"] == "no significant difference"
    assert same["p_value"] == 1.0
    assert runtime.ab_min_pairs(0.05) == 6  # 2 / 2**5 = 0.0625 > 0.05 >= 2 / 2**6
    few = verdict([0.0] * 5, [100.0 + i for i in range(5)])  # a huge effect, 5 pairs
    assert few["verdict"] == "inconclusive"
    assert few["p_value"] is None and few["pairs"] == 5
    assert "at least 6 are needed" in few["reason"]
    assert verdict([], [])["verdict"] == "inconclusive"


def test_pairs_with_a_failed_or_odd_side_are_left_out_and_counted():
    a = [float(i) for i in range(10)]
    b = [x + 1 for x in a]
    b[2] = math.nan  # never used
    b[3] = "0.5"  # text is not a number
    found = verdict(a, b, states={("a", 4): "failed", ("b", 5): "skipped"})
    assert found["pairs"] == 6 and found["dropped"] == 4
    assert found["difference"] == pytest.approx(1.0)
    assert "4 pairs left out (a side failed)" in found["reason"]
    # a failed point's metric is never used, whatever it recorded
    assert runtime.ab_pairs(docs([1.0], [2.0], {("b", 0): "failed"}), "score", "seed") == ([], 1)


# --- the plan ------------------------------------------------------------------------------

PARAMETERS = [
    Parameter("effect", "float", "0.0", value=0.0),
    Parameter("seed", "int", "0", value=0),
    Parameter("label", "str", '""', value=""),
]


def ab(**fields) -> Strategy:
    return Plan.from_json(
        {
            "grid": {},
            "strategy": {
                "kind": "ab",
                "metric": "score",
                "b": {"effect": 1},
                "replicate": "seed",
                "replicates": 3,
                **fields,
            },
        }
    ).strategy


def test_points_pair_up_by_replicate_and_stay_apart_when_a_equals_b():
    base = expand({"label": "x"}, PARAMETERS)
    points = abtest.points(ab(a={"effect": 1}), base, PARAMETERS)
    assert [p.id[:2] for p in points] == ["a-", "b-"] * 3
    assert [p.parameters for p in points[:2]] == [
        {"label": "x", "effect": 1.0, "seed": 0},
        {"label": "x", "effect": 1.0, "seed": 0},
    ]
    assert len({p.id for p in points}) == 6
    assert [p.parameters["seed"] for p in points] == [0, 0, 1, 1, 2, 2]
    assert isinstance(points[1].parameters["effect"], float)  # coerced to the parameter's type
    assert abtest.variant_values(ab(), points, "b") == {"label": "x", "effect": 1.0}


def test_a_champion_variant_runs_the_champions_parameters():
    champion = {"effect": 0.25, "seed": 7}
    points = abtest.points(ab(a="champion"), [], PARAMETERS, champion)
    assert points[0].parameters == {"effect": 0.25, "seed": 0}
    with pytest.raises(InvalidPlan) as e:
        abtest.points(ab(a="champion"), [], PARAMETERS, None)
    assert e.value.errors[0]["field"] == "strategy.a"
    assert "no champion yet" in e.value.message


@pytest.mark.parametrize(
    ("fields", "grid", "field", "words"),
    [
        ({"replicate": "fold"}, {}, "strategy.replicate", "'fold' is not a parameter"),
        ({"replicate": "label"}, {}, "strategy.replicate", "gives it the numbers"),
        ({"b": {"seed": 3}}, {}, "strategy.b.seed", "may not set it"),
        ({"b": {"lr": 3}}, {}, "strategy.b.lr", "unknown parameter"),
        ({"a": {"effect": "big"}}, {}, "strategy.a.effect", "float parameter"),
        ({}, {"effect": [1, 2]}, "grid.effect", "may only fix one value"),
        ({}, {"seed": 1}, "strategy.replicate", "also fixed in the grid"),
    ],
)
def test_problems_name_their_field(fields, grid, field, words):
    errors = abtest.problems(ab(**fields), grid, PARAMETERS)
    assert any(e["field"] == field and words in e["message"] for e in errors), errors


def test_unchecked_parameters_accept_any_name():
    assert abtest.problems(ab(b={"anything": 1}), {}, None) == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"replicates": 1}, "strategy.replicates: 1 is less than the minimum of 2"),
        ({"replicates": 1001}, "strategy.replicates: 1001 is greater than the maximum of 1000"),
        ({"alpha": 0.5}, "strategy.alpha: 0.5 is greater than or equal to the maximum of 0.5"),
        ({"alpha": 0}, "strategy.alpha: 0 is less than or equal to the minimum of 0"),
        ({"a": "best"}, "strategy.a"),
        ({"promote": "yes"}, "strategy.promote: 'yes' is not of type 'boolean'"),
        ({"oops": 1}, "unknown key 'oops'"),
    ],
)
def test_the_schema_names_the_bad_field(fields, words):
    with pytest.raises(InvalidPlan) as e:
        ab(**fields)
    assert words in e.value.message


def test_required_fields_and_round_trip():
    with pytest.raises(InvalidPlan) as e:
        Plan.from_json({"grid": {}, "strategy": {"kind": "ab", "metric": "m", "b": {}}})
    assert "'replicate' is a required property" in e.value.message
    plan = Plan.from_json({"grid": {}, "strategy": ab(promote=True).to_json()})
    assert plan.strategy == ab(promote=True)
    assert plan.strategy.to_json()["alpha"] == 0.05


def test_the_summary_shows_both_variants_and_the_verdict_once_done():
    strategy = ab(replicates=6).to_json()
    points = [Point(p["id"], p["parameters"]) for p in docs([0.0] * 6, [1.0] * 6)]
    shown = docs([0.0 + i for i in range(6)], [1.0 + i for i in range(6)])
    found = abtest.summary(strategy, shown)
    assert [v["value"] for v in found["variants"]["b"]["values"]] == [1, 2, 3, 4, 5, 6]
    assert found["variants"]["a"]["parameters"] == {}
    assert found["verdict"]["verdict"] == "B better"
    shown[-1]["state"] = "running"
    assert abtest.summary(strategy, shown)["verdict"] is None
    assert abtest.summary({"kind": "grid"}, shown) is None
    assert len(points) == 12
