"""Warm kernels (kernels/zygote/) on real kernels: a corpus of notebooks gives the same output
notebooks with and without the zygote, nothing leaks between points, kernels it cannot fork
fall back to ordinary ones, a dead or stale zygote is replaced, a timeout or an interrupt
reaches only its own kernel, and the CLI leaves no zygote behind. A test that looks inside a
zygote holds it (``held``): runs started meanwhile share it, as concurrent runs do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_mvdp.kernels import zygote
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.processes import children, kernels, left_behind, subreaper, wait_for

LIB = {
    # state chosen at import from the environment
    "mvdp_probe_env.py": "import os\nMODE = os.environ.get('MVDP_PROBE_MODE', 'unset')\n",
    # a thread started at import: it would not survive a fork, so it is never preloaded
    "mvdp_probe_thread.py": textwrap.dedent(
        """
        import threading, time
        ticks = []
        def _tick():
            while True:
                ticks.append(1)
                time.sleep(0.01)
        threading.Thread(target=_tick, daemon=True).start()
        """
    ),
    # prints at import: a fresh kernel shows it in the cell's output
    "mvdp_probe_noisy.py": "print('hello from an import')\n",
    # random generators made at import: one from the OS's entropy, one from a fixed seed
    "mvdp_probe_rng.py": "import random\nRNG = random.Random()\nFIXED = random.Random(42)\n",
}

CORPUS = {
    "plot": [
        "import matplotlib\nimport matplotlib.pyplot as plt\nprint(matplotlib.get_backend())",
        "fig, ax = plt.subplots(figsize=(2, 2), dpi=50)\nax.plot([1, 3, 2])\nplt.show()",
    ],
    "env": ["import mvdp_probe_env\nprint(mvdp_probe_env.MODE)"],
    "seeded": [
        "import numpy as np\nnp.random.seed(42)\nprint(np.random.rand(3))",
        "import random\nrandom.seed(7)\nprint(random.random())",
    ],
    "thread": [
        "import time, mvdp_probe_thread\ntime.sleep(0.2)\nprint(len(mvdp_probe_thread.ticks) > 0)"
    ],
    "noisy": ["import mvdp_probe_noisy"],
    "namespace": [
        "import json, numpy\n"
        "print(sorted(k for k in globals() if not k.startswith('_')))\n"
        "print(hasattr(json, 'LEAK'), hasattr(numpy, 'LEAK'), 'leak' in globals())",
        "leak = json.LEAK = numpy.LEAK = 1",
    ],
    "error": ["import pandas as pd\npd.DataFrame({'a': [1]})", "raise ValueError('boom')"],
    # what pandas and tqdm decide at import from IPython: a kernel's, not a terminal's
    "display": [
        "import pandas as pd\nprint(pd.get_option('display.max_columns'))\n"
        "print(pd.DataFrame([[i * j for j in range(30)] for i in range(3)]))"
    ],
    "tqdm": ["from tqdm.auto import tqdm\nprint(sum(1 for _ in tqdm(range(3), disable=True)))"],
    "metrics": [
        "from jupyter_mvdp import record\nimport sklearn.linear_model as lm\n"
        "m = lm.LinearRegression().fit([[0], [1], [2]], [1, 3, 5])\n"
        "record('slope', round(float(m.coef_[0]), 6))\nprint(m.intercept_.round(6))"
    ],
}


def notebook(path: Path, cells: list[str], kernel: str = "python3") -> Path:
    spec = {"name": kernel, "display_name": kernel, "language": "python"}
    nb = new_notebook(metadata={"kernelspec": spec})
    nb.cells = [new_code_cell("x = 0", metadata={"tags": ["parameters"]})]
    nb.cells += [new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    lib = tmp_path / "lib"  # outside the notebooks' folder, on the kernels' PYTHONPATH
    lib.mkdir()
    for name, source in LIB.items():
        (lib / name).write_text(source)
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("MVDP_PROBE_MODE", "chosen-at-import")
    restart_forkserver()  # point workers (and their kernels) inherit the forkserver's env
    root = tmp_path / "root"
    root.mkdir()
    yield root
    zygote.POOL.stop_all()
    monkeypatch.undo()
    restart_forkserver()


def restart_forkserver() -> None:
    from multiprocessing import forkserver

    forkserver._forkserver._stop()


@pytest.fixture
def manager(workspace):
    store = RunStore(workspace / "runs.sqlite")
    yield RunManager(store, build_targets({}), root_dir=workspace, user="tester")
    store.close()


@contextmanager
def held(workspace: Path, name: str):
    """The zygote of this notebook's imports, held as a run would hold it."""
    nb = nbformat.read(workspace / name, as_version=4)
    z = zygote.POOL.acquire("held-by-the-test", nb, workspace, "python3")
    try:
        yield z
    finally:
        zygote.POOL.release("held-by-the-test")


def run(manager, name: str, warm: bool = True, **plan) -> dict:
    doc = {"grid": {}, "strategy": {"kind": "grid"}, "warm_kernels": warm, **plan}
    run_id = manager.submit(name, doc, "local", background=False)
    return manager.wait(run_id, interval=0.1)


def cells(path: Path) -> list:
    """What a reader compares: each code cell's outputs (streams, data, errors), no timings
    or execution counts; scrapbook's metrics are in the data."""

    def output(o):
        if o.output_type == "stream":
            return ("stream", o.name, o.text)
        if o.output_type == "error":
            return ("error", o.ename, o.evalue)
        return (o.output_type, dict(o.data))

    nb = nbformat.read(path, as_version=4)
    return [[output(o) for o in c.outputs] for c in nb.cells if c.cell_type == "code"]


def test_a_corpus_gives_the_same_notebooks_with_and_without_the_zygote(manager, workspace):
    for name, sources in CORPUS.items():
        notebook(workspace / f"{name}.ipynb", sources)
    preloaded = set()
    for name in CORPUS:
        cold = run(manager, f"{name}.ipynb", warm=False)["points"][0]
        expected = cells(workspace / cold["output"])
        with held(workspace, f"{name}.ipynb") as z:
            for _ in range(2):  # the second point is forked from the same zygote
                warm = run(manager, f"{name}.ipynb")["points"][0]
                assert cells(workspace / warm["output"]) == expected, name
                assert (warm["state"], warm["error"], warm["metrics"]) == (
                    cold["state"],
                    cold["error"],
                    cold["metrics"],
                ), name
            preloaded |= set(z.preloaded)
    # the corpus did exercise what it claims: a plot, a scrap, an error; the env module came
    # from the zygote, the threaded and the noisy ones were left to the kernel
    plot = cells(workspace / run(manager, "plot.ipynb")["points"][0]["output"])
    assert plot[1] == [("stream", "stdout", "module://matplotlib_inline.backend_inline\n")]
    assert "image/png" in plot[2][0][1]
    assert cells(workspace / run(manager, "thread.ipynb")["points"][0]["output"])[1] == [
        ("stream", "stdout", "True\n")
    ]
    assert run(manager, "metrics.ipynb")["points"][0]["metrics"] == {"slope": 2.0}
    assert run(manager, "error.ipynb")["points"][0]["error"].startswith("In [3]: ValueError")
    # a kernel's pandas: 20 columns at most, a wide frame wrapped at 80 characters
    shown = cells(workspace / run(manager, "display.ipynb")["points"][0]["output"])[1]
    text = "".join(o[2] for o in shown if o[:2] == ("stream", "stdout"))
    assert text.startswith("20\n") and "\\\n" in text, text
    assert max(map(len, text.splitlines())) <= 80, text
    # tqdm.auto warns at import in a kernel (notebook mode without ipywidgets), warm as fresh
    warned = cells(workspace / run(manager, "tqdm.ipynb")["points"][0]["output"])[1]
    assert any(o[:2] == ("stream", "stderr") and "Tqdm" in o[2] for o in warned), warned
    assert {"mvdp_probe_env", "matplotlib.pyplot", "numpy", "pandas", "sklearn.linear_model"} <= (
        preloaded
    )
    assert not preloaded & {"mvdp_probe_thread", "mvdp_probe_noisy"}


def test_points_are_forked_fresh_with_their_own_random_state(manager, workspace):
    notebook(
        workspace / "who.ipynb",
        [
            "import os, numpy as np\n"
            "from pathlib import Path\n"
            "from jupyter_mvdp import record\n"
            "record('parent', Path(f'/proc/{os.getppid()}/comm').read_text().strip())\n"
            "record('draw', float(np.random.rand()))"
        ],
    )
    doc = run(manager, "who.ipynb", grid={"x": [1, 2, 3]}, parallelism=3)
    assert doc["state"] == "success", [(p["error"], doc["message"]) for p in doc["points"]]
    metrics = [p["metrics"] for p in doc["points"]]
    assert {m["parent"] for m in metrics} == {"mvdp-point"}  # forked, not started
    assert len({m["draw"] for m in metrics}) == 3  # numpy reseeded after each fork


FRESH = [
    "import os, mvdp_probe_rng\n"
    "from jupyter_mvdp import record\n"
    "record('hash', hash('x'))\n"
    "record('draw', mvdp_probe_rng.RNG.random())\n"
    "record('fixed', mvdp_probe_rng.FIXED.random())\n"
    "record('JPY_PARENT_PID', int(os.environ['JPY_PARENT_PID']))\n"
    "record('getppid', os.getppid())"
]


def test_a_forked_kernel_is_as_fresh_as_a_started_one(manager, workspace):
    """What a fresh kernel draws at start is drawn again after the fork: a run's hash seed
    (shared by its points: they are forked from one process, see the README), the random
    generators modules seeded from entropy at import; one seeded with a value is as the
    import left it; ``JPY_PARENT_PID`` is the kernel's parent."""
    notebook(workspace / "fresh.ipynb", FRESH)
    cold = run(manager, "fresh.ipynb", warm=False)["points"][0]["metrics"]
    warm = [
        run(manager, "fresh.ipynb", grid={"x": [1, 2]}, parallelism=2)["points"] for _ in range(2)
    ]
    points = [p["metrics"] for doc in warm for p in doc]
    assert all(p["state"] == "success" for doc in warm for p in doc), warm
    first, second = ({p["metrics"]["hash"] for p in doc} for doc in warm)
    differences = {
        "the same hash seed in two runs": not first.isdisjoint(second),
        "the same draws in two points": len({m["draw"] for m in points}) < 4,
        "a seeded generator changed": {m["fixed"] for m in points} != {cold["fixed"]},
        "JPY_PARENT_PID is not the parent": any(
            m["JPY_PARENT_PID"] != m["getppid"] for m in [cold, *points]
        ),
    }
    assert [what for what, found in differences.items() if found] == []


def test_a_fixed_hash_seed_is_honoured(manager, workspace, monkeypatch):
    """PYTHONHASHSEED in the kernels' environment gives a forked kernel the seed a started
    one has: the way to reproducible string hashes across points and runs."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    restart_forkserver()
    notebook(workspace / "fresh.ipynb", FRESH)
    cold = run(manager, "fresh.ipynb", warm=False)["points"][0]["metrics"]
    warm = run(manager, "fresh.ipynb")["points"][0]["metrics"]
    assert warm["hash"] == cold["hash"]


def test_the_environment_at_import_is_the_kernels(manager, workspace, monkeypatch):
    notebook(workspace / "env.ipynb", CORPUS["env"])
    assert cells(workspace / run(manager, "env.ipynb")["points"][0]["output"])[1] == [
        ("stream", "stdout", "chosen-at-import\n")
    ]
    # a server restarted in another environment: its kernels import under the new one
    monkeypatch.setenv("MVDP_PROBE_MODE", "changed")
    restart_forkserver()
    with held(workspace, "env.ipynb") as z:
        assert cells(workspace / run(manager, "env.ipynb")["points"][0]["output"])[1] == [
            ("stream", "stdout", "changed\n")
        ]
        assert "mvdp_probe_env" in z.preloaded


def test_kernels_the_zygote_cannot_fork_are_ordinary(manager, workspace, tmp_path, monkeypatch):
    specs = tmp_path / "jupyter" / "kernels"
    python = KernelSpecManager().get_kernel_spec("python3")
    for name, change in {
        "py-env": {"env": {"MVDP_SPEC_ENV": "from-the-spec"}},
        "py-other": {"argv": [sys.executable + "-other", *python.argv[1:]]},
    }.items():
        (specs / name).mkdir(parents=True)
        spec = {"argv": python.argv, "display_name": name, "language": "python", **change}
        (specs / name / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    restart_forkserver()
    assert zygote.forkable_kernel("python3")
    assert not zygote.forkable_kernel("py-env")
    assert not zygote.forkable_kernel("py-other")
    assert not zygote.forkable_kernel("bash")
    assert not zygote.forkable_kernel("no-such-kernel")
    notebook(workspace / "spec.ipynb", ["import os\nprint(os.environ.get('MVDP_SPEC_ENV'))"])
    doc = run(manager, "spec.ipynb", kernel="py-env")
    assert cells(workspace / doc["points"][0]["output"])[1] == [
        ("stream", "stdout", "from-the-spec\n")
    ]
    assert zygote.POOL.pids() == []  # no zygote for a kernel it cannot fork
    # and a zygote refuses a command for another interpreter or environment
    with held(workspace, "spec.ipynb") as z:
        cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "k.json")]
        other = ["/usr/bin/python3", *cmd[1:]]
        env = {**os.environ, "MVDP_SOMETHING_ELSE": "1"}
        with z.channel() as channel:
            assert zygote.fork_kernel(channel, other, {"cwd": workspace}) is None
            assert zygote.fork_kernel(channel, cmd, {"cwd": workspace, "env": env}) is None


def test_a_dead_or_stale_zygote_is_replaced_and_an_edited_notebook_gets_its_imports(
    manager, workspace
):
    notebook(workspace / "nb.ipynb", ["import json\nprint(1)"])
    assert run(manager, "nb.ipynb")["state"] == "success"
    with held(workspace, "nb.ipynb") as first:
        assert "json" in first.preloaded
        os.kill(first.pid, signal.SIGKILL)
        first.proc.wait()
        assert run(manager, "nb.ipynb")["state"] == "success"
        with held(workspace, "nb.ipynb") as second:  # what the run used
            assert second.pid != first.pid and second.proc.poll() is None
    # edited: a new import gets a zygote that has it
    notebook(workspace / "nb.ipynb", ["import json, mvdp_probe_env\nprint(1)"])
    with held(workspace, "nb.ipynb") as z:
        assert "mvdp_probe_env" in z.preloaded
        assert run(manager, "nb.ipynb")["state"] == "success"
        # a preloaded module of the user's own changed on disk: replaced, the new code runs
        lib = Path(os.environ["PYTHONPATH"].split(os.pathsep)[0])
        (lib / "mvdp_probe_env.py").write_text("MODE = 'edited'\n")
        os.utime(lib / "mvdp_probe_env.py", ns=(1, 1))
        notebook(
            workspace / "nb.ipynb", ["import json, mvdp_probe_env\nprint(mvdp_probe_env.MODE)"]
        )
        doc = run(manager, "nb.ipynb")
        assert cells(workspace / doc["points"][0]["output"])[1] == [
            ("stream", "stdout", "edited\n")
        ]


def test_a_timeout_kills_only_its_point(manager, workspace):
    notebook(workspace / "slow.ipynb", ["import time\ntime.sleep(x)"])
    with held(workspace, "slow.ipynb") as z:
        doc = run(manager, "slow.ipynb", grid={"x": [0, 60]}, parallelism=2, timeout=8)
        states = {p["parameters"]["x"]: (p["state"], p["error"] or "") for p in doc["points"]}
        assert states[0] == ("success", "")
        assert states[60][0] == "failed" and "timeout" in states[60][1]
        assert z.proc.poll() is None  # the zygote lives on
        wait_for(lambda: not kernels(z.pid), 10, "the timed-out point's kernel to go")
        assert run(manager, "slow.ipynb")["state"] == "success"


def test_an_interrupt_reaches_a_forked_kernel(workspace):
    import asyncio

    notebook(workspace / "i.ipynb", ["import time"])

    async def interrupted(channel) -> str:
        km = zygote.kernel_manager(channel)(kernel_name="python3")
        await km.start_kernel(cwd=str(workspace), env=zygote.worker_env())  # as a worker's
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            assert km.provisioner.process.pid in kernels(zygote.POOL.pids()[0])
            msg_id = kc.execute("import time; time.sleep(60)")
            await asyncio.sleep(1)
            await km.interrupt_kernel()
            reply = await kc._async_get_shell_msg(timeout=20)
            assert reply["parent_header"]["msg_id"] == msg_id
            return reply["content"].get("ename", "")
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    with held(workspace, "i.ipynb") as z, z.channel() as channel:
        assert asyncio.run(interrupted(channel)) == "KeyboardInterrupt"


CLI = [sys.executable, "-m", "jupyter_mvdp.cli"]


def test_the_cli_leaves_no_zygote_or_kernel_behind(workspace):
    notebook(workspace / "nb.ipynb", ["import json\nprint(x)"])
    (workspace / "plan.json").write_text(
        json.dumps({"grid": {"x": [1, 2]}, "strategy": {"kind": "grid"}})
    )
    with subreaper():
        before = children()
        done = subprocess.run(
            [*CLI, "--db", "runs.sqlite", "run", "nb.ipynb", "--plan", "plan.json"],
            cwd=workspace,
            capture_output=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stderr
        assert left_behind(before, within=10) == {}


def test_the_target_setting_turns_warm_kernels_off(workspace):
    notebook(workspace / "nb.ipynb", ["import json\nprint(x)"])
    store = RunStore(workspace / "off.sqlite")
    cold = RunManager(
        store,
        build_targets({"local": {"kind": "local", "warm_kernels": False}}),
        root_dir=workspace,
    )
    try:
        doc = run(cold, "nb.ipynb", warm=True)  # the plan asks, the target says no
    finally:
        store.close()
    assert doc["state"] == "success"
    assert zygote.POOL.pids() == []
