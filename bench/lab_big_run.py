"""A 10,000-point run through a real JupyterLab server and Chromium: what following it costs.

    python bench/lab_big_run.py [--runs 9] [--repeat 20] [--no-browser]

The run is written into the store by tests/bigrun.py (the rows a finished local run of a
trivial notebook leaves: states, metrics, outputs, tries; every 7th point failed, every 11th
skipped), next to ``--runs`` small finished runs, before the server starts. Then, through
the server: ``GET /mvdp/runs`` (target <= 100 ms), ``GET /mvdp/runs/<id>`` (<= 150 ms and
<= 200 KB), the server's extra memory once it served the run, its pages and sorts (<= 50 MB);
in Chromium: the run view's first paint (<= 1 s) and scroll and sort steps (<= 100 ms each).

"Before" is the whole document the routes sent until issue 25 (core/document.py
``run_document``, still what ``jupyter mvdp status --json`` prints), built and serialized in
this process from the same store, side by side with what the routes send now.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_mvdp.core.document import run_document  # noqa: E402
from jupyter_mvdp.core.models import PointStatus  # noqa: E402
from jupyter_mvdp.service.manager import RunManager  # noqa: E402
from jupyter_mvdp.service.store import RunStore  # noqa: E402
from jupyter_mvdp.targets import build_targets  # noqa: E402
from jupyter_mvdp.targets.airflow.dev import free_port  # noqa: E402
from tests.bigrun import write_big_run  # noqa: E402
from tests.targets.test_local import write_notebook  # noqa: E402

TOKEN = "lab-big-run-bench"
CHROMIUM = os.environ.get("MVDP_CHROMIUM", "/usr/bin/chromium")


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def small_runs(manager: RunManager, n: int) -> None:
    """``n`` finished 6-point runs: a run list is more than the big run."""
    for k in range(n):
        spec = manager.prepare(
            "tiny.ipynb",
            {"grid": {"x": list(range(6))}, "strategy": {"kind": "grid", "metric": "score"}},
        )
        manager.store.create(
            spec, notebook="tiny.ipynb", user=manager.user, owner=manager.owner.columns()
        )
        done = {
            p.id: PointStatus(state="success", metrics={"score": p.parameters["x"] + k})
            for p in spec.points
        }
        manager.store.update_points(spec.run_id, done)
        manager.store.update_run(spec.run_id, state="success")


def before(manager: RunManager, run_id: str) -> dict:
    """The whole documents the routes sent before: the run's, and the list of every run's."""
    started = time.perf_counter()
    doc = json.dumps(run_document(manager.store.run_record(run_id)))
    one = time.perf_counter() - started
    started = time.perf_counter()
    listed = json.dumps(
        {"runs": [run_document(manager.store.run_record(r)) for r in manager.store.run_ids()]}
    )
    return {
        "run_s": one,
        "run_bytes": len(doc),
        "list_s": time.perf_counter() - started,
        "list_bytes": len(listed),
    }


class Lab:
    def __init__(self, root: Path, db: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = {"Authorization": f"token {TOKEN}"}
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            f"--ServerApp.port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.port_retries=0",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            f"--IdentityProvider.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            f"--MvdpApp.db_path={db}",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            f"--LabApp.workspaces_dir={root.parent / 'workspaces'}",
        ]
        self.log = open(root.parent / "lab.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/api/status", headers=self.auth, timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not start; see {self.log.name}")

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    def get(self, path: str, **params) -> tuple[float, int, dict]:
        started = time.perf_counter()
        response = requests.get(
            f"{self.url}/mvdp/{path}", headers=self.auth, params=params, timeout=60
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        return elapsed, len(response.content), response.json()

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


def timed(lab: Lab, path: str, repeat: int, **params) -> dict:
    first, size, _ = lab.get(path, **params)
    times = sorted(lab.get(path, **params)[0] for _ in range(repeat))
    return {
        "first": first,
        "median": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "bytes": size,
    }


# in the page: time from an action to the rows it asks for painted (a frame after they are)
WAIT_JS = """
async ([action, runId, arg]) => {
  const view = () => document.querySelector(`.jp-mvdp-runView[data-run="${runId}"]`);
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  const scroller = () => view()?.querySelector('.jp-mvdp-leaderboardScroll');
  const painted = row => {
    const el = view()?.querySelector(`tr[data-row="${row}"]`);
    return el && el.hasAttribute('data-point') && !view().querySelector('.jp-mvdp-loadingRow');
  };
  const t0 = performance.now();
  let done;
  if (action === 'open') {
    await window.jupyterapp.commands.execute('mvdp:open-run', { runId });
    done = () => painted(0);
  } else if (action === 'scroll') {
    scroller().scrollTop = arg * 28;
    scroller().dispatchEvent(new Event('scroll'));
    done = () => painted(arg);
  } else {
    const th = Array.from(view().querySelectorAll('th')).find(t => t.textContent === arg);
    const before = th.getAttribute('aria-sort');
    th.querySelector('button').click();
    // the new order's first page is fetched: no row waits for its point any more
    done = () => th.getAttribute('aria-sort') !== before && painted(0);
  }
  while (!done()) {
    await frame();
    if (performance.now() - t0 > 20000) { throw new Error(`${action} ${arg}: not painted`); }
  }
  await frame();
  return {
    ms: performance.now() - t0,
    rows: view().querySelectorAll('tr.jp-mvdp-point').length
  };
}
"""


def browser(lab: Lab, run_id: str) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        )
        page = chromium.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{lab.url}/lab?token={TOKEN}")
        page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.started", timeout=90000
        )
        page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=90000)
        time.sleep(1)
        opened = page.evaluate(WAIT_JS, ["open", run_id, None])
        total = int(
            page.locator(
                f'.jp-mvdp-runView[data-run="{run_id}"] .jp-mvdp-leaderboard'
            ).get_attribute("aria-rowcount")
        )

        def step(action: str, arg, pause: float) -> dict:
            time.sleep(pause)  # a wheel's steps ~0.1 s apart, a click's longer
            return page.evaluate(WAIT_JS, [action, run_id, arg])

        steps = [step("scroll", 20 * k, 0.1) for k in range(1, 11)]
        jumps = [step("scroll", row, 0.1) for row in (5000, 9000, 2500, 7500, 100, 9200)]
        sorts = [step("sort", c, 0.3) for c in ("x", "x", "sleep", "score", "#", "point")]
        chromium.close()
    return {
        "open": opened,
        "rows_total": total - 1,
        "steps": steps,
        "jumps": jumps,
        "sorts": sorts,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=9, help="small runs next to the big one")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print(load(), "(start)")
    with tempfile.TemporaryDirectory(prefix="mvdp-bench-") as tmp:
        root, db = Path(tmp) / "root", Path(tmp) / "runs.sqlite"
        root.mkdir()
        write_notebook(root / "tiny.ipynb")
        store = RunStore(db)
        manager = RunManager(store, build_targets({}), root_dir=root)
        started = time.perf_counter()
        run_id = write_big_run(manager)
        small_runs(manager, args.runs)
        print(
            f"store: a 10,000-point run (tests/bigrun.py) and {args.runs} 6-point runs"
            f" written in {time.perf_counter() - started:.1f} s"
        )
        old = before(manager, run_id)
        store.close()

        lab = Lab(root, db)
        try:
            lab.get("status")
            rss0 = lab.rss()
            runs = timed(lab, "runs", args.repeat)
            run = timed(lab, f"runs/{run_id}", args.repeat)
            page = timed(
                lab,
                f"runs/{run_id}/points",
                args.repeat,
                sort="param:x",
                order="desc",
                offset=5000,
                limit=100,
            )
            for sort in ("param:sleep", "metric:half", "id", "state"):
                lab.get(f"runs/{run_id}/points", sort=sort, limit=100)
            extra = (lab.rss() - rss0) / 1e6
            seen = browser(lab, run_id) if not args.no_browser else None
            extra_after = (lab.rss() - rss0) / 1e6
        finally:
            lab.stop()

    ms = 1000
    print()
    print(f"{'':34}{'before':>14}{'after':>14}{'ratio':>9}   target")
    rows = [
        ("GET runs: bytes", old["list_bytes"], runs["bytes"], "", ""),
        ("GET runs: ms (median)", old["list_s"] * ms, runs["median"] * ms, "<= 100", 100),
        ("GET runs/<id>: bytes", old["run_bytes"], run["bytes"], "<= 200 KB", 200_000),
        ("GET runs/<id>: ms (median)", old["run_s"] * ms, run["median"] * ms, "<= 150", 150),
    ]
    for name, b, a, target, limit in rows:
        ok = "" if not limit else ("ok" if a <= limit else "MISSED")
        print(f"{name:34}{b:>14,.0f}{a:>14,.1f}{b / max(a, 1e-9):>8.0f}x   {target} {ok}")
    print("  (before: the whole document built and serialized in-process, no HTTP;")
    print("   after: through the server, HTTP included)")
    print(
        f"GET runs: first {runs['first'] * ms:.0f} ms (builds the big run's summary once),"
        f" p95 {runs['p95'] * ms:.1f} ms"
    )
    print(
        f"GET runs/<id>: first {run['first'] * ms:.0f} ms, p95 {run['p95'] * ms:.1f} ms;"
        f" a page of 100 sorted by x (offset 5000): first {page['first'] * ms:.0f} ms,"
        f" then {page['median'] * ms:.1f} ms, {page['bytes']:,} bytes"
    )
    print(
        f"server's extra memory for the run: {extra:.1f} MB after the REST requests,"
        f" {extra_after:.1f} MB after the browser's too (target <= 50 MB)"
    )
    if seen:
        worst = max(s["ms"] for s in seen["steps"] + seen["jumps"])
        worst_sort = max(s["ms"] for s in seen["sorts"])
        rows_in_dom = max(s["rows"] for s in seen["steps"] + seen["jumps"] + seen["sorts"])
        print(
            f"Chromium: first paint of the run view {seen['open']['ms']:.0f} ms (target <= 1000);"
            f" rows in the DOM <= {rows_in_dom} of {seen['rows_total']:,}"
        )
        print(
            "  scroll steps (20 rows, 0.1 s apart) ms: "
            + " ".join(f"{s['ms']:.0f}" for s in seen["steps"])
            + "\n  scroll jumps (to rows 5000, 9000, 2500, 7500, 100, 9200) ms: "
            + " ".join(f"{s['ms']:.0f}" for s in seen["jumps"])
            + "\n  sorts (x, x again, sleep, score, #, point) ms: "
            + " ".join(f"{s['ms']:.0f}" for s in seen["sorts"])
            + f"\n  worst scroll {worst:.0f} ms, worst sort {worst_sort:.0f} ms (target <= 100)"
        )
    print(load(), "(end)")


if __name__ == "__main__":
    main()
