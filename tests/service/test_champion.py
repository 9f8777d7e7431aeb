"""service/champion.py: a pipeline's champion, and how one stored under a pipeline's old
(non-injective) id carries over to its new id: only when this user's notebook crowned it."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core.naming import legacy_pipeline_id, pipeline_id
from jupyter_mvdp.service import champion
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.service.test_store import make_spec
from tests.targets.test_local import write_notebook

CANARY = {"grid": {}, "strategy": {"kind": "canary", "metric": "acc"}}


@pytest.fixture
def manager(tmp_path):
    write_notebook(tmp_path / "tiny.ipynb")
    store = RunStore(tmp_path / "runs.sqlite")
    yield RunManager(store, build_targets({}), root_dir=tmp_path, user="ann.lee")
    store.close()


@pytest.mark.parametrize(
    ("crowned_by", "carried"),
    [
        (("ann.lee", "tiny.ipynb"), 0.9),
        (("ann_lee", "tiny.ipynb"), None),
        (("ann.lee", "other.ipynb"), None),
    ],
)
def test_a_legacy_champion_carries_over_only_to_its_own_user_and_notebook(
    manager, crowned_by, carried
):
    old = legacy_pipeline_id("ann.lee", "tiny.ipynb")
    assert old == legacy_pipeline_id("ann_lee", "tiny.ipynb")  # the collision it fixes
    user, notebook = crowned_by
    manager.store.create(make_spec("r-old", old), notebook=notebook, user=user)
    manager.store.set_champion(old, "acc", 0.9, "r-old", "p-1")
    spec = manager.prepare("tiny.ipynb", CANARY, "local")
    assert spec.pipeline == pipeline_id("ann.lee", "tiny.ipynb") != old
    assert spec.champion == carried


def test_the_new_id_champion_wins_and_another_metric_is_no_champion(manager):
    new = pipeline_id("ann.lee", "tiny.ipynb")
    manager.store.create(make_spec("r1", new), notebook="tiny.ipynb", user="ann.lee")
    manager.store.set_champion(new, "acc", 0.7, "r1", "p-1")
    assert manager.prepare("tiny.ipynb", CANARY, "local").champion == 0.7
    assert champion.champion_value(manager.store, new, "f1") is None
