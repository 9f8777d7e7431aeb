"""What the CLI prints of an A/B test: both variants, the difference, the verdict; escaped."""

from __future__ import annotations

from jupyter_mvdp.cli.abtest import print_ab
from jupyter_mvdp.core import abtest
from jupyter_mvdp.core.models import Plan


def test_print_ab_shows_both_variants_and_the_verdict_escaped(capsys):
    strategy = Plan.from_json(
        {
            "grid": {},
            "strategy": {
                "kind": "ab",
                "metric": "score",
                "a": {"name": "\x1b[31mred"},
                "b": {"name": "blue"},
                "replicate": "seed",
                "replicates": 6,
            },
        }
    ).strategy
    points = abtest.points(strategy, [], None)
    docs = [
        {
            "id": p.id,
            "parameters": p.parameters,
            "state": "failed" if p.id.startswith("a-") and p.parameters["seed"] == 5 else "success",
            "metrics": {"score": p.parameters["seed"] + (1.5 if p.id.startswith("b-") else 0)},
        }
        for p in points
    ]
    summary = abtest.summary(strategy.to_json(), docs)
    print_ab(summary)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred" in out
    assert "A  name=\\x1b[31mred  5/6 values  min 0  median 2  max 4" in out
    assert "B  name=blue  6/6 values  min 1.5  median 4  max 6.5" in out
    assert "pairs: 5 used, 1 left out (a side failed)" in out
    # five pairs cannot reach alpha 0.05 (2 / 2**5 > 0.05): inconclusive, never a winner
    assert "verdict: inconclusive: 5 complete pairs of score, at least 6 are needed" in out

    summary["verdict"] = None
    print_ab(summary)
    assert "verdict: not yet (points still to run)" in capsys.readouterr().out
