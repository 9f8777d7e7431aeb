"""Modules are preloaded as a kernel's cell imports them (kernels/zygote/preload.py
``as_in_a_kernel``), in a fresh interpreter as a zygote is: what they decide from IPython at
import is what a fresh kernel's import decides, and one that asks or keeps more of the shell
than a not-yet-started kernel has is left to the kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

MODULES = {
    # pandas' own rule: a shell with a ``kernel`` is a notebook
    "mvdp_asks_kernel": "NOTEBOOK = hasattr(get_ipython(), 'kernel')\n",
    "mvdp_asks_class": (
        "import IPython\nNAME = type(IPython.get_ipython()).__name__\n"
        "import builtins\nIPY = getattr(builtins, '__IPYTHON__', False)\n"
    ),
    "mvdp_asks_config": "CONFIG = 'IPKernelApp' in get_ipython().config\n",
    "mvdp_asks_comms": "get_ipython().kernel.comm_manager\n",
    "mvdp_keeps_shell": "SHELL = get_ipython()\n",
    "mvdp_asks_env": "import os\nCOLOR = os.environ.get('FORCE_COLOR')\n",
}

PRELOAD = textwrap.dedent(
    """
    import builtins, json, os, sys
    import ipykernel.kernelapp  # as the zygote has it
    from IPython.core.interactiveshell import InteractiveShell
    from jupyter_mvdp.kernels.zygote.preload import preload_modules
    left, clean = list(sys.argv[1:]), []
    while left:  # as the zygote does: again without the module that broke a rule
        done, broken = preload_modules(left)
        clean += done
        left = [m for m in left if m not in done and m != broken]
    import pandas
    print(json.dumps({
        "clean": clean,
        "max_columns": pandas.get_option("display.max_columns"),
        "notebook": sys.modules["mvdp_asks_kernel"].NOTEBOOK,
        "name": sys.modules["mvdp_asks_class"].NAME,
        "ipython": sys.modules["mvdp_asks_class"].IPY,
        "color": sys.modules["mvdp_asks_env"].COLOR,
        "left": [k for k in ("get_ipython", "__IPYTHON__", "display") if hasattr(builtins, k)],
        "shell": InteractiveShell.initialized(),
        "env": os.environ.get("FORCE_COLOR"),
    }))
    """
)


def test_modules_import_as_in_a_kernel_and_the_zygote_is_left_clean(tmp_path):
    for name, source in MODULES.items():
        (tmp_path / f"{name}.py").write_text(source)
    modules = ["pandas", "tqdm.auto", *MODULES]
    done = subprocess.run(
        [sys.executable, "-c", PRELOAD, *modules],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **{k: v for k, v in os.environ.items() if k != "FORCE_COLOR"},
            "PYTHONPATH": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found == {
        # the config, the kernel's comms and a kept shell: the kernel's to import; tqdm.auto
        # asks, then warns (no ipywidgets) or chooses the notebook's bar
        "clean": ["pandas", "mvdp_asks_kernel", "mvdp_asks_class", "mvdp_asks_env"],
        "max_columns": 20,  # a notebook's, as in a fresh kernel (a terminal's is 0)
        "notebook": True,
        "name": "ZMQInteractiveShell",
        "ipython": True,
        "color": "1",  # ZMQInteractiveShell's environment
        "left": [],  # and nothing of it stays in the zygote
        "shell": False,
        "env": None,
    }
