"""The optimize strategy against a full grid and a random search of the same budget, on a
noisy Branin (the objective of tests/notebooks/optimize/branin.ipynb, minimised; its minimum
0.397887 at three points): over many seeds, the median of the best value found (the true,
noise-free value of the point each search picks as its best by what it measured) and the
distance from that point to the nearest optimum.

The decisions run in-process (runtime.optimize_ask, the one the local runner and the DAG's
ask tasks call) with the objective as a Python function, so many seeds are cheap; with
``--notebook`` one run of the real notebook on the local runner is added, and its points
are checked to be the ones the in-process decision asks for its own results.

    python bench/optimize.py [--seeds 20] [--noise 0.5] [--notebook]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.core import runtime  # noqa: E402

OPTIMUM = 0.397887
OPTIMA = [(-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)]
SPACE = {
    "x": {"type": "float", "low": -5.0, "high": 10.0, "log": False},
    "y": {"type": "float", "low": 0.0, "high": 15.0, "log": False},
}
#: (budget, parallelism): a square grid of the same size each
BUDGETS = [(25, 5), (49, 7), (100, 10)]


def branin(x: float, y: float) -> float:
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    return a * (y - b * x**2 + c * x - r) ** 2 + s * (1 - t) * math.cos(x) + s


def measured(p: dict, noise: float) -> float:
    """What the notebook records: Branin plus noise seeded by the parameters (as there)."""
    seed = int(hashlib.sha256(repr((p["x"], p["y"], 3, "none")).encode()).hexdigest()[:8], 16)
    return branin(p["x"], p["y"]) + random.Random(seed).gauss(0, noise)


def picked(points: list[dict], noise: float) -> tuple[float, float]:
    """(true value, distance to the nearest optimum) of the point with the best measurement."""
    best = min(points, key=lambda p: measured(p, noise))
    distance = min(math.dist((best["x"], best["y"]), o) for o in OPTIMA)
    return branin(best["x"], best["y"]), distance


def grid_points(budget: int) -> list[dict]:
    n = math.isqrt(budget)
    xs = [-5 + 15 * i / (n - 1) for i in range(n)]
    ys = [15 * i / (n - 1) for i in range(n)]
    return [{"x": x, "y": y} for x in xs for y in ys]


def searched(budget: int, size: int, seed: int, sampler: str, noise: float) -> list[dict]:
    """The points the optimize strategy runs, round by round (what the runner does)."""
    done: list[dict] = []
    for r in range(-(-budget // size)):
        history = [
            {"parameters": p, "state": "success", "metrics": {"value": measured(p, noise)}}
            for p in done
        ]
        n = min(size, budget - len(done))
        done += runtime.optimize_ask(
            SPACE,
            history,
            n,
            metric="value",
            goal="min",
            sampler=sampler,
            seed=seed,
            r=r,
            startup=size,
        )
    return done


def table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for row in [header, *rows]:
        print("  ".join(str(c).rjust(w) for c, w in zip(row, widths, strict=True)))


def compare(seeds: int, noise: float) -> None:
    rows = []
    for budget, size in BUDGETS:
        grid = picked(grid_points(budget), noise)
        found = {"random": [], "tpe": []}
        started = time.perf_counter()
        for seed in range(seeds):
            for sampler in found:
                found[sampler].append(picked(searched(budget, size, seed, sampler, noise), noise))
        per_run = (time.perf_counter() - started) / (2 * seeds)
        tpe = [v for v, _ in found["tpe"]]
        wins = sum(v < grid[0] for v in tpe)
        beats_random = sum(a < b for a, b in zip(tpe, (v for v, _ in found["random"]), strict=True))
        rows.append(
            [
                f"{budget} ({size}/round)",
                f"{grid[0]:.3f} / {grid[1]:.2f}",
                f"{statistics.median(v for v, _ in found['random']):.3f} / "
                f"{statistics.median(d for _, d in found['random']):.2f}",
                f"{statistics.median(tpe):.3f} / {statistics.median(d for _, d in found['tpe']):.2f}",
                _ratio(statistics.median(v for v, _ in found["random"]), statistics.median(tpe)),
                f"{wins}/{seeds}",
                f"{beats_random}/{seeds}",
                f"{per_run:.2f}",
            ]
        )
    print(
        f"noisy Branin (noise sd {noise}), minimum {OPTIMUM}; value / distance to the nearest "
        f"optimum of the point each search picks; medians over {seeds} seeds"
    )
    table(
        [
            "budget",
            "full grid",
            "random",
            "optimize (tpe)",
            "random/tpe regret",
            "tpe < grid",
            "tpe < random",
            "s per search",
        ],
        rows,
    )


def _ratio(random_value: float, tpe_value: float) -> str:
    """How many times the random search's regret (value - minimum) is the optimizer's."""
    regret = tpe_value - OPTIMUM
    return f"{(random_value - OPTIMUM) / regret:.1f}x" if regret > 0 else "inf"


def notebook_run(noise: float) -> None:
    """One run of the real notebook on the local runner; its points must be the ones the
    in-process decision asks given the run's own results."""
    import shutil

    from jupyter_mvdp.service.manager import RunManager
    from jupyter_mvdp.service.store import RunStore
    from jupyter_mvdp.targets import build_targets

    budget, size, seed = 16, 4, 0
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "tests" / "notebooks" / "optimize" / "branin.ipynb", tmp)
        store = RunStore(Path(tmp) / "runs.sqlite")
        manager = RunManager(store, build_targets({}), root_dir=tmp, user="bench")
        plan = {
            "grid": {
                "x": {"start": -5, "stop": 10, "num": 2},
                "y": {"start": 0, "stop": 15, "num": 2},
                "noise": noise,
            },
            "strategy": {
                "kind": "optimize",
                "metric": "value",
                "goal": "min",
                "budget": budget,
                "seed": seed,
            },
            "parallelism": size,
        }
        started = time.perf_counter()
        run_id = manager.submit("branin.ipynb", plan, "local", background=False)
        doc = manager.wait(run_id, interval=0.2)
        took = time.perf_counter() - started
        store.close()
    points = doc["points"]
    same = True
    for r in range(budget // size):
        earlier = points[: r * size]
        asked = runtime.optimize_ask(
            doc["optimize"]["space"],
            earlier,
            size,
            metric="value",
            goal="min",
            seed=seed,
            r=r,
            startup=size,
        )
        same &= asked == [p["parameters"] for p in points[r * size : (r + 1) * size]]
    best = doc["best"]
    print(
        f"\nreal notebook, local runner: {budget} points in {budget // size} rounds of {size}, "
        f"{took:.1f} s; best value {best['metrics']['value']:.3f} at "
        f"x={best['parameters']['x']:.3f} y={best['parameters']['y']:.3f}; "
        f"same points as the in-process decision: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--noise", type=float, default=0.5)
    parser.add_argument("--notebook", action="store_true", help="also one real-notebook run")
    args = parser.parse_args()
    compare(args.seeds, args.noise)
    if args.notebook:
        notebook_run(args.noise)
    print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
