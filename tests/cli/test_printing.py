"""No escape code reaches the terminal: every string the CLI prints from a notebook, a plan
or a target is made printable (cli/printing.py). A notebook carries escape vectors in its
parameter help and defaults, grid values, metric names and values, an exception and a
canary's reason; `params`, `run`, `status` and errors print none of them raw."""

from __future__ import annotations

import json
import unicodedata

import pytest

from jupyter_mvdp.cli.printing import printable
from tests.cli.test_commands import cli, plan_file
from tests.targets.test_local import write_notebook

VECTORS = [
    "\x1b[31mred\x1b[0m",  # CSI colour
    "\x1b]52;c;ZWNobyBwd25lZA==\x07",  # OSC 52: write the clipboard
    "\x1b]0;title\x1b\\",  # OSC title, ST
    "\x9b2J",  # C1 CSI: clear the screen
    "\x90payload\x9c",  # C1 DCS ... ST
    "abc\x08\x08\x08xyz",  # backspaces over text
    "\rover",  # carriage return: overwrite the line
    "\u202etxt.exe",  # right-to-left override
    "\u2066iso\u2069",  # isolates
    "\x00nul\x7fdel",
]
EVIL = "".join(VECTORS)


def raw_controls(text: str) -> list[str]:
    """Characters a terminal would act on, other than newline and tab."""
    return [
        ch
        for ch in text
        if ch not in "\n\t"
        and (
            unicodedata.category(ch) == "Cc"
            or ch in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
        )
    ]


@pytest.mark.parametrize("vector", VECTORS, ids=repr)
def test_printable_escapes_each_vector_and_keeps_plain_text(vector):
    shown = printable(vector)
    assert raw_controls(shown) == []
    assert (
        printable("plain text, ünïcödé, 名前\nline two\tok")
        == "plain text, ünïcödé, 名前\nline two\tok"
    )


# a comment ends at a carriage return, and Python refuses NUL: the help has the rest
IN_A_LINE = "".join(v for v in VECTORS if "\r" not in v and "\x00" not in v)
PARAMS = f"label = {EVIL!r}  # help {IN_A_LINE}\nfail = False  # fail it"
BODY = (
    "from jupyter_mvdp import record\n"
    f"record({EVIL!r}, {EVIL!r})\n"
    "record('score', 1)\n"
    "if fail:\n"
    f"    raise ValueError({EVIL!r})"
)


def test_no_escape_reaches_the_terminal_through_params_run_status_and_errors(workspace, capsys):
    write_notebook(workspace / "evil.ipynb", params=PARAMS, body=BODY)
    code, out, err = cli(capsys, "params", "evil.ipynb")
    assert code == 0 and "\\x1b" in out  # shown, escaped
    printed = out + err
    plan = {
        "grid": {"label": [EVIL, "plain"], "fail": [False, True]},
        "strategy": {"kind": "canary", "metric": "score", "baseline": 5.0},
        "parallelism": 2,
    }
    code, out, err = cli(
        capsys, "run", "evil.ipynb", "--plan", plan_file(workspace / "p.json", plan)
    )
    assert code == 1 and "canary: alert" in out  # the reason quotes the metric
    printed += out + err
    code, out, err = cli(capsys, "status")
    printed += out + err
    run_id = json.loads(cli(capsys, "status", "--json")[1])["runs"][0]["run_id"]
    code, out, err = cli(capsys, "status", run_id)
    assert "ValueError" in out
    printed += out + err
    code, out, err = cli(capsys, "run", f"{EVIL}.ipynb")  # a bad path, echoed in the error
    assert code == 2
    printed += out + err
    assert raw_controls(printed) == []
    assert "\\u202e" in printed and "\\x1b]52" in printed
