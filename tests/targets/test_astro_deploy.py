"""The Astro deploy client against a local stand-in that follows Astro's published API."""

from __future__ import annotations

import io
import socket
import tarfile

import pytest

from jupyter_mvdp.exceptions import DeployError, TargetAuthError, TargetUnreachable
from jupyter_mvdp.targets.astro.deploy_api import AstroDeployClient, tarball
from tests.astro_standin import AstroStandIn

TOKEN = "astro-secret-token-123"
MOUNT = "/usr/local/airflow/dags/mvdp/pipeline_a"


@pytest.fixture
def astro(tmp_path):
    with AstroStandIn(
        token=TOKEN, organization_id="org1", deployment_id="dep1", dags_root=tmp_path / "airflow"
    ) as standin:
        team = tmp_path / "airflow" / "dags"
        team.mkdir(parents=True)
        (team / "team_etl.py").write_text("# the team's own DAG\n")
        yield standin


def client(astro, **overrides) -> AstroDeployClient:
    settings = {
        "organization_id": "org1",
        "deployment_id": "dep1",
        "token": TOKEN,
        "api_url": astro.api_url,
        "timeout": 5,
    }
    return AstroDeployClient(**{**settings, **overrides})


def test_bundle_deploy_follows_the_create_upload_finalize_flow(astro):
    deploy = client(astro).deploy_bundle(
        MOUNT, {"pipeline_a.py": b"# dag", "pipeline_a.ipynb": b"{}"}
    )
    create, upload, finalize = astro.requests
    assert create["method"] == "POST" and create["path"].endswith(
        "/organizations/org1/deployments/dep1/deploys"
    )
    assert create["json"]["type"] == "BUNDLE"
    assert create["json"]["bundleMountPath"] == MOUNT
    assert create["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert upload["method"] == "PUT" and upload["headers"]["x-ms-blob-type"] == "BlockBlob"
    assert "Authorization" not in upload["headers"]  # the token never goes to the blob store
    assert finalize["path"].endswith(f"/deploys/{deploy.id}/finalize")
    assert finalize["json"] == {"bundleTarballVersion": deploy.version}
    landed = astro.path_of(MOUNT)
    assert (landed / "pipeline_a.py").read_bytes() == b"# dag"
    assert (landed / "pipeline_a.ipynb").read_bytes() == b"{}"


def test_other_dags_and_other_pipelines_survive(astro):
    c = client(astro)
    c.deploy_bundle(MOUNT, {"pipeline_a.py": b"# a v1"})
    c.deploy_bundle("/usr/local/airflow/dags/mvdp/pipeline_b", {"pipeline_b.py": b"# b"})
    c.deploy_bundle(MOUNT, {"pipeline_a.py": b"# a v2"})
    dags = astro.dags_root / "dags"
    assert (dags / "team_etl.py").read_text() == "# the team's own DAG\n"
    assert (dags / "mvdp" / "pipeline_b" / "pipeline_b.py").read_bytes() == b"# b"
    assert (dags / "mvdp" / "pipeline_a" / "pipeline_a.py").read_bytes() == b"# a v2"


def test_a_dag_only_deploy_would_have_wiped_the_team_dags(astro):
    """Why we use bundles: the stand-in reproduces Astro's DAG_ONLY semantics."""
    import requests

    created = requests.post(
        f"{astro.api_url}/organizations/org1/deployments/dep1/deploys",
        json={"type": "DAG_ONLY"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()
    put = requests.put(
        created["dagsUploadUrl"],
        data=tarball({"x.py": b""}),
        headers={"x-ms-blob-type": "BlockBlob"},
        timeout=5,
    )
    requests.post(
        f"{astro.api_url}/organizations/org1/deployments/dep1/deploys/{created['id']}/finalize",
        json={"dagTarballVersion": put.headers["x-ms-version-id"]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert not (astro.dags_root / "dags" / "team_etl.py").exists()


@pytest.mark.parametrize(
    ("setup", "overrides", "error", "needle"),
    [
        (None, {"token": "expired"}, TargetAuthError, "refused the API token"),
        (None, {"deployment_id": "nope"}, DeployError, "does not know deployment 'nope'"),
        ("fail_upload", {}, DeployError, "Uploading the bundle to Astro failed (HTTP 503)"),
        ("reject_finalize", {}, DeployError, "could not finalize the deploy (HTTP 400)"),
    ],
)
def test_errors_name_what_to_fix_and_never_the_token(astro, setup, overrides, error, needle):
    if setup:
        setattr(astro, setup, True)
    with pytest.raises(error) as caught:
        client(astro, **overrides).deploy_bundle(MOUNT, {"a.py": b""})
    assert needle in caught.value.message
    assert TOKEN not in caught.value.message
    assert not astro.path_of(MOUNT).exists()  # nothing half-deployed


def test_unreachable_api(astro):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetUnreachable, match="Cannot reach the Astro API"):
        client(astro, api_url=f"http://127.0.0.1:{port}/platform/v1beta1").deploy_bundle(MOUNT, {})


def test_tarball_is_gzipped_and_holds_the_files():
    with tarfile.open(
        fileobj=io.BytesIO(tarball({"a/b.py": b"x", "c.ipynb": b"{}"})), mode="r:gz"
    ) as tar:
        assert sorted(tar.getnames()) == ["a/b.py", "c.ipynb"]
        assert tar.extractfile("a/b.py").read() == b"x"
