"""The Astro target: its deploy half against a local stand-in that follows Astro's published
deploy API (the cloud cannot be reached from CI), its trigger/watch half against the real
local Airflow of the harness, as the deployment's Airflow API would be."""

from __future__ import annotations

import pytest

from jupyter_mvdp.exceptions import TargetAuthError
from jupyter_mvdp.service.manager import RunManager
from jupyter_mvdp.service.store import RunStore
from jupyter_mvdp.targets import build_targets
from tests.astro_standin import AstroStandIn
from tests.integration.test_airflow import titanic_plan


@pytest.fixture
def astro(airflow):
    """The stand-in mounts bundles into the real Airflow's DAGs folder, as Astro mounts them
    into the deployment's; its 'deployment token' is a real Airflow token."""
    token = airflow.token()
    with AstroStandIn(
        token=token,
        organization_id="org1",
        deployment_id="dep1",
        dags_root=airflow.home,
        mount_prefix=str(airflow.home),
    ) as standin:
        standin.token_value = token
        yield standin


def astro_settings(airflow, astro, **overrides) -> dict:
    return {
        "kind": "astro",
        "organization_id": "org1",
        "deployment_id": "dep1",
        "api_url": astro.api_url,
        "airflow_url": airflow.url,
        "token": astro.token_value,
        "bundle_root": str(airflow.dags_folder / "mvdp"),
        "outputs_location": str(airflow.outputs_folder),
        "kernel_name": "python3",
        **overrides,
    }


def test_astro_deploys_a_bundle_runs_on_airflow_and_keeps_other_dags(airflow, astro, workspace):
    team_dag = airflow.dags_folder / "team_etl.py"
    team_dag.write_text("# the team's own DAG, not ours to touch\n")
    store = RunStore(workspace / "runs.sqlite")
    manager = RunManager(
        store,
        build_targets({"astro": astro_settings(airflow, astro)}),
        root_dir=workspace,
        user="astro-user",  # its own pipeline ids: never the same DAG id as the Airflow tests
    )
    plan = titanic_plan(workspace, {"kind": "grid", "metric": "accuracy"}, {"max_depth": [2, 4]})
    run_id = manager.submit("titanic.ipynb", plan, "astro", background=False)
    doc = manager.wait(run_id, interval=0.5)
    assert doc["state"] == "success", doc["message"]
    assert all(p["metrics"]["accuracy"] > 0.7 for p in doc["points"])
    create, upload, finalize = astro.requests[:3]
    assert create["json"]["type"] == "BUNDLE"
    assert create["json"]["bundleMountPath"] == f"{airflow.dags_folder}/mvdp/{doc['pipeline']}"
    assert (
        upload["headers"]["x-ms-blob-type"] == "BlockBlob"
        and "Authorization" not in upload["headers"]
    )
    assert "bundleTarballVersion" in finalize["json"]
    assert team_dag.read_text() == "# the team's own DAG, not ours to touch\n"
    store.close()


def test_a_bad_token_stops_before_anything_is_deployed(airflow, astro, workspace):
    target = build_targets({"astro": astro_settings(airflow, astro, token="expired")})["astro"]
    store = RunStore(workspace / "runs.sqlite")
    manager = RunManager(store, {"astro": target}, root_dir=workspace, user="someone-else")
    spec = manager.prepare(
        "titanic.ipynb", titanic_plan(workspace, {"kind": "grid"}, {"max_depth": [2]}), "astro"
    )
    with pytest.raises(TargetAuthError):
        target.deploy(spec)
    assert astro.requests == []
    assert not (airflow.dags_folder / "mvdp" / spec.pipeline).exists()
    assert "expired" not in str(target.describe())
    store.close()
