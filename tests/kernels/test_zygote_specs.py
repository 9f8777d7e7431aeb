"""Which kernelspecs get warm kernels (kernels/zygote/preload.py ``warm_kernel``): any that
runs this interpreter's ipykernel, whatever its options, the path it names the interpreter by
or the order of ipykernel's arguments, and the forked kernel is the one the spec describes;
a really different spec gets a cold kernel, and the run says why, once: in the CLI, in
``--json``, in the run's document (the lab's header) and in the point's log."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_mvdp.kernels import zygote
from jupyter_mvdp.kernels.zygote.preload import kernel_command, warm_kernel
from jupyter_mvdp.targets.local.worker import log_path
from tests.kernels import test_zygote
from tests.kernels.test_zygote import CLI, notebook, restart_forkserver, run

# a workspace whose kernels see their own PYTHONPATH, and a run manager on it
workspace, manager = test_zygote.workspace, test_zygote.manager

CF = "{connection_file}"
VENV_BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("argv", "options", "module", "args"),
    [
        (["python", "-m", "ipykernel_launcher", "-f", CF], (), "ipykernel_launcher", ("-f", CF)),
        (
            ["python", "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", CF],
            ("-X", "frozen_modules=off"),
            "ipykernel_launcher",
            ("-f", CF),
        ),
        (
            ["py", "-Esu", "-X", "dev", "-W", "ignore", "-mipykernel", "--debug", "-f", CF],
            ("-E", "-s", "-u", "-X", "dev", "-W", "ignore"),
            "ipykernel",
            ("--debug", "-f", CF),
        ),
        (
            ["py", "-I", "-OO", "-m", "ipykernel_launcher", f"--f={CF}"],
            ("-I", "-O", "-O"),
            "ipykernel_launcher",
            (f"--f={CF}",),
        ),
    ],
)
def test_a_kernel_command_is_read_as_python_reads_it(argv, options, module, args):
    assert kernel_command(argv) == (argv[0], options, module, args)


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["python", "-c", "import ipykernel"], "-c"),
        (["python", "-i", "-m", "ipykernel_launcher"], "-i"),
        (["python", "wrapper.py", "-m", "ipykernel_launcher"], "no -m"),
        (["python", "-m", "my_kernel", "-f", CF], "my_kernel"),
        (["python", "-X"], "without its value"),
        ([], "empty"),
    ],
)
def test_other_commands_are_not_ipykernel(argv, why):
    with pytest.raises(ValueError, match=why):
        kernel_command(argv)


@pytest.fixture
def specs(tmp_path, monkeypatch):
    """Write a kernelspec into a Jupyter path of the test's own."""
    root = tmp_path / "jupyter"

    def install(name: str, argv: list[str], **fields) -> str:
        folder = root / "kernels" / name
        folder.mkdir(parents=True)
        spec = {"argv": argv, "display_name": name, "language": "python", **fields}
        (folder / "kernel.json").write_text(json.dumps(spec))
        return name

    monkeypatch.setenv("JUPYTER_PATH", str(root))
    return install


def _other_name() -> Path:
    """This venv's Python by its other name (``python3`` for ``python`` or back)."""
    other = VENV_BIN / ("python3" if Path(sys.executable).name == "python" else "python")
    if not other.exists():
        pytest.skip(f"no {other}")
    return other


def test_specs_that_run_this_python_are_warm(specs, tmp_path):
    linked = tmp_path / "linked-env"  # the same environment through a symlinked folder
    linked.symlink_to(sys.prefix, target_is_directory=True)
    cases = {
        specs(
            "frozen", [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", CF]
        ): (
            sys.executable,
            "-X",
            "frozen_modules=off",
        ),
        specs("options", ["python", "-E", "-s", "-u", "-m", "ipykernel_launcher", "-f", CF]): (
            sys.executable,
            "-E",
            "-s",
            "-u",
        ),
        specs("module", ["python3", "-Es", "-m", "ipykernel", "--IPKernelApp.x=1", "-f", CF]): (
            sys.executable,
            "-E",
            "-s",
        ),
        specs("other-name", [str(_other_name()), "-m", "ipykernel_launcher", "-f", CF]): (
            str(_other_name()),
        ),
        specs("linked", [str(linked / "bin" / "python"), "-m", "ipykernel_launcher", "-f", CF]): (
            str(linked / "bin" / "python"),
        ),
        # an env the kernels already have changes nothing
        specs(
            "same-env",
            ["python", "-m", "ipykernel_launcher", "-f", CF],
            env={"HOME": os.environ["HOME"]},
        ): (sys.executable,),
    }
    assert {name: warm_kernel(name) for name in cases} == {
        name: (interpreter, None) for name, interpreter in cases.items()
    }
    assert zygote.forkable_kernel("frozen")


def test_really_different_specs_are_cold_and_say_why(specs, tmp_path):
    other_env = tmp_path / "other-env"  # another venv of the same interpreter file
    (other_env / "bin").mkdir(parents=True)
    shutil.copy(Path(sys.prefix) / "pyvenv.cfg", other_env / "pyvenv.cfg")
    (other_env / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    wrapper = tmp_path / "wrapper.sh"
    wrapper.write_text('#!/bin/sh\nexec python "$@"\n')
    wrapper.chmod(0o755)
    kernel = ["-m", "ipykernel_launcher", "-f", CF]
    cases = {
        specs("other-env", [str(other_env / "bin" / "python"), *kernel]): "another environment",
        specs("wrapper", [str(wrapper), *kernel]): "another interpreter",
        specs("missing", [str(tmp_path / "nowhere" / "python"), *kernel]): "not there",
        specs("code", ["python", "-c", "import ipykernel"]): "-c",
        specs("env", ["python", *kernel], env={"MVDP_SPEC_ENV": "x"}): "sets MVDP_SPEC_ENV",
        specs(
            "provisioned",
            ["python", *kernel],
            metadata={"kernel_provisioner": {"provisioner_name": "local-provisioner"}},
        ): "provisioner",
        specs("r", ["R", "--slave"], language="R"): "not Python",
        "no-such-kernel": "no kernelspec",
    }
    if sys.prefix != sys.base_prefix:  # the venv's own interpreter, outside the venv
        base = Path(sys.base_prefix) / "bin" / Path(os.path.realpath(sys.executable)).name
        cases[specs("base", [str(base), *kernel])] = "another environment"
    if Path("/usr/bin/python3").exists() and os.path.realpath(
        "/usr/bin/python3"
    ) != os.path.realpath(sys.executable):
        cases[specs("system", ["/usr/bin/python3", *kernel])] = "another interpreter"
    found = {name: warm_kernel(name) for name in cases}
    assert {n: w.interpreter for n, w in found.items()} == dict.fromkeys(cases)
    missed = {n: w.reason for n, w in found.items() if cases[n] not in (w.reason or "")}
    assert missed == {}
    # warm kernels were never in question for these: a run has nothing to warn about
    assert {n for n, w in found.items() if w.quiet} == {"r", "no-such-kernel"}
    assert zygote.POOL.warm("r-run", None, tmp_path, "r") == (None, None)
    restart_forkserver()  # it started with this test's JUPYTER_PATH


def _probe() -> str:
    """What a kernel is: its interpreter, options, argv and path, and who started it."""
    return (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from jupyter_mvdp import record\n"
        "record('parent', Path(f'/proc/{os.getppid()}/comm').read_text().strip())\n"
        "record('executable', sys.executable)\n"
        "record('xoptions', json.dumps(sys._xoptions, sort_keys=True))\n"
        "record('flags', repr(sys.flags))\n"
        "record('argv', json.dumps([a for a in sys.orig_argv if not a.endswith('.json')]))\n"
        "record('path', json.dumps(sys.path))\n"
    ).replace("import os, sys", "import json, os, sys")


def test_an_installed_kernelspec_gets_warm_kernels_as_it_describes(
    manager,
    workspace,
    tmp_path,
    monkeypatch,
):
    """``python -m ipykernel install`` (``-Xfrozen_modules=off`` on 3.11+) and a spec with
    options and ``-m ipykernel``: forked by a zygote (the kernel's parent is the zygote's
    point process), and the same interpreter, options, argv and path as a fresh kernel."""
    prefix = tmp_path / "prefix"
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "inst"],
        check=True,
        capture_output=True,
    )
    root = prefix / "share" / "jupyter"
    installed = json.loads((root / "kernels" / "inst" / "kernel.json").read_text())["argv"]
    if sys.version_info >= (3, 11):
        assert "-Xfrozen_modules=off" in installed  # the case of the issue
    (root / "kernels" / "opts").mkdir()
    (root / "kernels" / "opts" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(_other_name()), "-s", "-u", "-m", "ipykernel", "-f", CF],
                "display_name": "opts",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(root))
    restart_forkserver()
    notebook(workspace / "probe.ipynb", [_probe()])
    for kernel in ("inst", "opts"):
        cold = run(manager, "probe.ipynb", warm=False, kernel=kernel)
        warm = run(manager, "probe.ipynb", kernel=kernel)
        assert (cold["state"], warm["state"], warm["warnings"]) == ("success", "success", [])
        fresh, forked = cold["points"][0]["metrics"], warm["points"][0]["metrics"]
        assert (fresh.pop("parent") != "mvdp-point", forked.pop("parent")) == (True, "mvdp-point")
        assert forked == fresh, kernel
    assert json.loads(fresh["argv"])[1:3] == ["-s", "-u"]


def test_cold_kernels_say_why_once(manager, workspace, specs, tmp_path):
    """In the run's document (the lab's run header shows its warnings), in the point's log,
    and in the CLI: one warning line, and the same in ``--json``."""
    specs("py-env", ["python", "-m", "ipykernel_launcher", "-f", CF], env={"MVDP_SPEC_ENV": "1"})
    restart_forkserver()
    notebook(workspace / "nb.ipynb", ["print(x)"])
    doc = run(manager, "nb.ipynb", kernel="py-env", grid={"x": [1, 2, 3]}, parallelism=2)
    assert doc["state"] == "success"
    cold = [w for w in doc["warnings"] if "cold" in w]
    assert len(cold) == 1 and "MVDP_SPEC_ENV" in cold[0], doc["warnings"]
    spec = manager.store.spec(doc["run_id"])
    for point in doc["points"]:
        log = log_path(spec.output_dir, point["id"]).read_text()
        assert "not a warm one" in log and "MVDP_SPEC_ENV" in log, log
    assert zygote.POOL.pids() == []
    (workspace / "plan.json").write_text(
        json.dumps({"grid": {"x": [1, 2]}, "strategy": {"kind": "grid"}, "kernel": "py-env"})
    )
    done = subprocess.run(
        [*CLI, "--db", "cli.sqlite", "run", "nb.ipynb", "--plan", "plan.json", "--json"],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if "cold" in line]
    assert len(said) == 1 and "MVDP_SPEC_ENV" in said[0], done.stderr
    assert [w for w in json.loads(done.stdout)["warnings"] if "cold" in w] == [
        said[0].split("warning: ", 1)[1]
    ]


def test_a_warm_run_says_nothing(manager, workspace):
    notebook(workspace / "nb.ipynb", ["import json\nprint(x)"])
    doc = run(manager, "nb.ipynb", grid={"x": [1]})
    assert doc["state"] == "success" and doc["warnings"] == []
    spec = manager.store.spec(doc["run_id"])
    assert "not a warm one" not in log_path(spec.output_dir, doc["points"][0]["id"]).read_text()
