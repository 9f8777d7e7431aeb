"""core/naming.py: pipeline ids, pipeline names a user may choose, run ids."""

from __future__ import annotations

import re
import subprocess

import pytest

from jupyter_mvdp.core import naming

AIRFLOW_DAG_ID = re.compile(r"[A-Za-z0-9_.-]{1,250}")  # Airflow's KEY_REGEX, ASCII
USERS = [
    "ann.lee",
    "ann-lee",
    "ann lee",
    "ann_lee",
    "Ann_Lee",
    "ANN.LEE",
    "ann__lee",
    "ann.lee ",
    "x@corp.com",
    "x_corp_com",
    "x.corp.com",
    "dev-1",
    "dev.1",
    "dev_1",
    "dev 1",
    "张三",
    "李四",
    "张 三",
    "ｄｅｖ１",
    "José",
    "Jose",
    "jose",
    "",
    "-",
    ".",
    "__",
    "x" * 300,
]
NOTEBOOKS = [
    "titanic.ipynb",
    "a/titanic.ipynb",
    "a_titanic.ipynb",
    "a.titanic.ipynb",
    "A/titanic.ipynb",
    "a/b c.ipynb",
    "a/b_c.ipynb",
    "名前.ipynb",
    "y" * 300 + ".ipynb",
]


def test_pipeline_ids_are_injective_readable_valid_and_stable():
    ids = {(u, nb): naming.pipeline_id(u, nb) for u in USERS for nb in NOTEBOOKS}
    assert len(set(ids.values())) == len(ids)  # no two (user, notebook) share a pipeline
    assert len({i.lower() for i in ids.values()}) == len(ids)  # not even on a case-blind disk
    for (user, nb), pid in ids.items():
        assert AIRFLOW_DAG_ID.fullmatch(pid), pid
        assert pid == naming.pipeline_id(user, nb)
    assert naming.pipeline_id("ann.lee", "titanic.ipynb").startswith("mvdp_ann.lee_titanic_")
    assert naming.pipeline_id("张三", "titanic.ipynb").startswith("mvdp_u5f20u4e09_titanic_")


def test_the_legacy_ids_collided_as_the_issue_says():  # why they were replaced
    old = {
        naming.legacy_pipeline_id(u, "titanic.ipynb")
        for u in ("ann.lee", "ann-lee", "ann lee", "ann_lee")
    }
    assert len(old) == 1


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("my_dag", True),
        ("a.b-c", True),
        ("-x", False),
        ("a b", False),
        ("x" * 201, False),
        ("", False),
    ],
)
def test_pipeline_names_a_user_may_choose(name, ok):
    assert naming.is_pipeline_name(name) is ok


def test_the_project_root_is_the_git_repository_else_the_folder(tmp_path):
    nb = tmp_path / "sub" / "nb.ipynb"
    nb.parent.mkdir()
    nb.write_text("{}")
    assert naming.project_root(nb) == nb.parent
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert naming.project_root(nb) == tmp_path.resolve()


def test_run_ids_sort_by_time_and_differ():
    ids = [naming.new_run_id() for _ in range(100)]
    assert len(set(ids)) == 100 and all(re.fullmatch(r"\d{8}T\d{6}-[0-9a-f]{16}", i) for i in ids)
