"""kernels/zygote/pool.py: a zygote that serves a run is never stopped for another run's
imports (its points would lose it mid-run and start cold), and a run beyond the cap, all
zygotes busy, gets ordinary kernels with the reason."""

from __future__ import annotations

import nbformat

from jupyter_mvdp.kernels.zygote import pool

# stdlib modules a zygote preloads in no time: one set of imports per notebook
IMPORTS = ["fractions", "decimal", "statistics", "difflib", "textwrap"]


def notebook(module: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"import {module}")]
    return nb


def test_busy_zygotes_are_kept_and_a_run_beyond_the_cap_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(pool, "_MAX_ZYGOTES", 3)
    zygotes = pool.ZygotePool()
    try:
        started = [zygotes.warm(f"run-{m}", notebook(m), tmp_path, None) for m in IMPORTS[:3]]
        assert all(z is not None and why is None for z, why in started), started
        # every run's zygote still runs: none was stopped for a later run's imports
        assert sorted(zygotes.pids()) == sorted(z.pid for z, _ in started)
        assert all(z.proc.poll() is None for z, _ in started)

        zygote, why = zygotes.warm("run-4", notebook(IMPORTS[3]), tmp_path, None)
        assert zygote is None
        assert why == "3 zygotes already serve runs with other imports (at most 3 at once)"

        zygotes.release("run-fractions")  # a run ends: its zygote stops, room for the next
        assert started[0][0].proc.poll() is not None
        zygote, why = zygotes.warm("run-5", notebook(IMPORTS[4]), tmp_path, None)
        assert zygote is not None and why is None
        # a run of the same imports shares its zygote
        again, _ = zygotes.warm("run-6", notebook(IMPORTS[1]), tmp_path, None)
        assert again is started[1][0]
    finally:
        zygotes.stop_all()
