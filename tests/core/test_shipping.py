"""Which files a notebook seems to read (shipping.py): the relative paths its code names,
and those of them that exist next to it but are not shipped."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core.shipping import path_literals, unshipped, warning

CODE = '''
import pandas as pd
%matplotlib inline
!ls datasets
data_path = "datasets/titanic.csv"  # the passenger log
frame = pd.read_csv("./lookup/codes.csv")
model = f"models/{name}.pkl"
url = "https://example.com/x.csv"
absolute = "/etc/passwd"
home = "~/x.csv"
up = "../outside.csv"
hidden = ".env"
text = """a
multi-line string"""
'''


def test_the_relative_paths_code_and_grid_name_once_each_normalized():
    found = path_literals([CODE, "x = 'datasets/titanic.csv'", "not python (("], ["b.csv", 3])
    # not a URL, an absolute or home path, a way up, a hidden file, nor text of many lines
    assert sorted(found) == ["b.csv", "datasets/titanic.csv", "lookup/codes.csv", "models"]
    assert len(found) == len(set(found))


@pytest.mark.parametrize(
    ("exists", "shipped", "missing"),
    [
        ({"datasets/titanic.csv": "file"}, [], [("datasets/titanic.csv", "file")]),
        ({"datasets/titanic.csv": "file"}, ["datasets/titanic.csv"], []),
        ({"datasets": "folder"}, [], [("datasets", "folder")]),
        ({"datasets": "folder"}, ["datasets/a.csv"], []),
        ({}, [], []),  # a word that is no file: nothing to say
    ],
)
def test_unshipped_keeps_what_exists_and_is_not_covered(exists, shipped, missing):
    assert unshipped([*exists, "gini"], exists.get, shipped) == missing


def test_the_warning_names_the_file_and_the_fix():
    said = warning("datasets/titanic.csv", "file")
    assert said["field"] == "files"
    assert "'datasets/titanic.csv'" in said["message"]
    assert said["message"].endswith('add "datasets/titanic.csv" to files')
