"""The server extension's own memory: RSS of a real jupyter server process without the
extension, with it idle, and with it following 10 active local runs (each a sleeping point).
Point workers, kernels, the forkserver and zygotes are separate processes, listed apart.

    python bench/footprint.py [--runs 10]

Targets: <= 20 MB idle and <= 50 MB with 10 active runs over the bare server.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.targets.airflow.dev import free_port  # noqa: E402
from tests.processes import tree  # noqa: E402
from tests.service.test_restart import Server  # noqa: E402
from tests.targets.test_local import write_notebook  # noqa: E402

SETTLE_SECONDS = 5


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def server(tmp: Path, name: str, extra: tuple = ()) -> Server:
    root = tmp / name
    root.mkdir()
    write_notebook(root / "tiny.ipynb")
    s = Server(root, tmp / f"{name}.sqlite", free_port(), poll_interval=1.0, extra=extra)
    s.start()
    time.sleep(SETTLE_SECONDS)
    return s


def active_runs(s: Server, n: int) -> tuple[float, float]:
    """RSS of the server, and of its other processes, while ``n`` runs are running."""
    plan = {"grid": {"sleep": [120.0]}, "strategy": {"kind": "grid"}, "parallelism": 1}
    ids = [
        requests.post(
            f"{s.url}/mvdp/runs",
            json={"notebook": "tiny.ipynb", "plan": plan},
            headers=s.auth,
            timeout=120,
        ).json()["run_id"]
        for _ in range(n)
    ]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        docs = [
            requests.get(f"{s.url}/mvdp/runs/{i}", headers=s.auth, timeout=30).json() for i in ids
        ]
        if all(d["counts"]["running"] == 1 for d in docs):
            break
        time.sleep(1)
    time.sleep(SETTLE_SECONDS)
    ours = rss_mb(s.proc.pid)
    others = sum(rss_mb(pid) for pid in tree(s.proc.pid))
    for i in ids:
        requests.post(f"{s.url}/mvdp/runs/{i}/cancel", headers=s.auth, timeout=30)
    return ours, others


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bare = server(tmp, "bare", ('--ServerApp.jpserver_extensions={"jupyter_mvdp": False}',))
        try:
            base = rss_mb(bare.proc.pid)
        finally:
            bare.kill()
        s = server(tmp, "mvdp")
        try:
            idle = rss_mb(s.proc.pid)
            idle_others = sum(rss_mb(pid) for pid in tree(s.proc.pid))
            active, active_others = active_runs(s, args.runs)
        finally:
            s.kill()
    print(f"bare jupyter server:             {base:6.1f} MB")
    print(
        f"with jupyter-mvdp, idle:         {idle:6.1f} MB  (+{idle - base:.1f} MB; target <= 20)"
        f"   its other processes: {idle_others:.0f} MB"
    )
    print(
        f"with {args.runs} active local runs:     {active:6.1f} MB  (+{active - base:.1f} MB; "
        f"target <= 50)   workers, kernels, forkserver, zygote: {active_others:.0f} MB"
    )


if __name__ == "__main__":
    main()
