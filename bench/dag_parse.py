"""Parse + serialize time of our DAG for a 10,000-point grid vs a seed-style DAG with one
PapermillOperator per point, in Airflow's own DagBag, as the dag-processor does; measured side
by side in one run, imports warmed first.

    python bench/dag_parse.py [--points 10000] [--repeat 3]

Runs inside the Airflow venv (created on first use by jupyter_mvdp.targets.airflow.dev).
Targets: ours >= 20x faster and <= 0.2 s; serialized >= 10x smaller.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.core import strategies  # noqa: E402
from jupyter_mvdp.core.grid import expand  # noqa: E402
from jupyter_mvdp.core.models import Plan  # noqa: E402
from jupyter_mvdp.render.dag import render_dag, runtime_files  # noqa: E402
from jupyter_mvdp.targets.airflow.dev import ensure_airflow_venv  # noqa: E402

SEED_STYLE = '''
"""One PapermillOperator per grid point: what a hand-written (seed) DAG does."""
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.papermill.operators.papermill import PapermillOperator

with DAG("seed_style", schedule=None, start_date=datetime(2024, 1, 1), catchup=False):
    for i, (a, b) in enumerate([(a, b) for a in range({side}) for b in range({side})]):
        PapermillOperator(
            task_id=f"run_{{i}}",
            input_nb="/nb/titanic.ipynb",
            output_nb=f"/out/{{{{ run_id }}}}/{{i}}.ipynb",
            parameters={{"n_estimators": a, "max_depth": b}},
        )
'''

MEASURE = textwrap.dedent(
    """
    import json, sys, time
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization
    folder, warm, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
    DagBag(dag_folder=warm, safe_mode=False)  # imports, providers, fsspec backends
    out = {}
    for name in ("ours.py", "seed_style.py"):
        parse, ser, size = [], [], 0
        for _ in range(repeat):
            t = time.perf_counter()
            bag = DagBag(dag_folder=f"{folder}/{name}", safe_mode=False)
            parse.append(time.perf_counter() - t)
            assert not bag.import_errors, bag.import_errors
            (dag,) = bag.dags.values()
            t = time.perf_counter()
            doc = DagSerialization.to_dict(dag)
            ser.append(time.perf_counter() - t)
            size = len(json.dumps(doc, default=str))
        out[name] = {"parse": min(parse), "serialize": min(ser), "bytes": size, "tasks": len(dag.task_ids)}
    print(json.dumps(out))
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    side = int(args.points**0.5)
    venv = ensure_airflow_venv()
    with tempfile.TemporaryDirectory() as tmp:
        folder, warm = Path(tmp, "dags"), Path(tmp, "warm")
        folder.mkdir()
        warm.mkdir()
        plan = Plan.from_json(
            {
                "grid": {"n_estimators": list(range(side)), "max_depth": list(range(side))},
                "strategy": {"kind": "grid"},
            }
        )
        points = strategies.ordered(plan.strategy, expand(plan.grid, limit=args.points))
        source = render_dag(
            dag_id="ours",
            plan=plan,
            points=points,
            notebook="/nb/titanic.ipynb",
            outputs="/out",
            kernel="python3",
        )
        (folder / "ours.py").write_text(source)
        (folder / "seed_style.py").write_text(SEED_STYLE.format(side=side))
        tiny = Plan.from_json({"grid": {"a": [1]}, "strategy": {"kind": "grid"}})
        (warm / "warm.py").write_text(
            render_dag(
                dag_id="warm",
                plan=tiny,
                points=expand(tiny.grid),
                notebook="/nb/x.ipynb",
                outputs="/out",
                kernel="python3",
            )
        )
        for dags in (folder, warm):  # the rules module a deploy ships next to the DAG
            for name, content in runtime_files().items():
                (dags / name).write_bytes(content)
        env = {
            "AIRFLOW_HOME": tmp,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "PATH": "/usr/bin:/bin",
        }
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-c", MEASURE, str(folder), str(warm), str(args.repeat)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
    r = json.loads(result.stdout.strip().splitlines()[-1])
    ours, seed = r["ours.py"], r["seed_style.py"]
    total = lambda x: x["parse"] + x["serialize"]  # noqa: E731
    print(
        f"{side * side:,} grid points; best of {args.repeat}; Airflow's DagBag + DagSerialization"
    )
    print(
        f"ours (1 mapped task):        parse {ours['parse']:.3f} s + serialize {ours['serialize']:.3f} s = {total(ours):.3f} s, {ours['bytes'] / 1e6:.2f} MB, {ours['tasks']} tasks"
    )
    print(
        f"seed style (1 op per point): parse {seed['parse']:.3f} s + serialize {seed['serialize']:.3f} s = {total(seed):.3f} s, {seed['bytes'] / 1e6:.2f} MB, {seed['tasks']} tasks"
    )
    print(
        f"ours is {total(seed) / total(ours):.1f}x faster (target >= 20x, <= 0.2 s) and {seed['bytes'] / ours['bytes']:.1f}x smaller serialized (target >= 10x)"
    )


if __name__ == "__main__":
    main()
