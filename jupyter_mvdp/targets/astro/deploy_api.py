"""Astronomer's deploy API: create a deploy, upload a gzipped tarball, finalize.

Follows the published Astro Platform API (v1beta1): ``POST /organizations/{org}/deployments/
{deployment}/deploys`` returns an upload URL (an Azure blob URL), the tarball is ``PUT`` there
with ``x-ms-blob-type: BlockBlob`` and its version comes back in ``x-ms-version-id``, then
``POST .../deploys/{id}/finalize`` names that version.

A DAG_ONLY deploy replaces the deployment's whole dags folder, which would wipe the team's
other DAGs, so jupyter-mvdp only makes BUNDLE deploys, one bundle per pipeline mounted at its
own path: deploying one pipeline never touches anything else.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass

import requests

from ...exceptions import DeployError, TargetAuthError, TargetUnreachable

DEFAULT_API = "https://api.astronomer.io/platform/v1beta1"
BUNDLE_TYPE = "mvdp"


@dataclass(frozen=True)
class Deploy:
    id: str
    upload_url: str
    version: str | None = None


def tarball(files: dict[str, bytes]) -> bytes:
    """A gzipped tar of ``{relative path: content}``, with stable metadata."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class AstroDeployClient:
    """The three calls of a bundle deploy, with errors that say what to fix."""

    def __init__(
        self,
        *,
        organization_id: str,
        deployment_id: str,
        token: str,
        api_url: str = DEFAULT_API,
        timeout: float = 60,
    ):
        self.base = (
            f"{api_url.rstrip('/')}/organizations/{organization_id}/deployments/{deployment_id}"
        )
        self.deployment_id = deployment_id
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = timeout

    def deploy_bundle(
        self, mount_path: str, files: dict[str, bytes], description: str = ""
    ) -> Deploy:
        """Create a BUNDLE deploy at ``mount_path``, upload ``files``, finalize; the deploy."""
        created = self._call(
            "POST",
            "/deploys",
            "create the deploy",
            json={
                "type": "BUNDLE",
                "bundleMountPath": mount_path,
                "bundleType": BUNDLE_TYPE,
                "description": description or "jupyter-mvdp pipeline",
            },
        )
        upload_url = created.get("bundleUploadUrl")
        if not created.get("id") or not upload_url:
            raise DeployError(
                "Astro created the deploy but returned no bundle upload URL; is the deployment on Airflow 3 with DAG deploys enabled?"
            )
        version = self._upload(upload_url, tarball(files))
        self._call(
            "POST",
            f"/deploys/{created['id']}/finalize",
            "finalize the deploy",
            json={"bundleTarballVersion": version},
        )
        return Deploy(created["id"], upload_url, version)

    def _upload(self, url: str, body: bytes) -> str:
        try:
            # the upload URL is pre-signed: no Astro token goes to the blob store
            response = requests.put(
                url,
                data=body,
                headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "application/x-gtar"},
                timeout=self.timeout,
            )
        except requests.RequestException as e:
            raise DeployError(f"Uploading the bundle to Astro failed: {type(e).__name__}") from None
        if response.status_code >= 300:
            raise DeployError(
                f"Uploading the bundle to Astro failed (HTTP {response.status_code}); try the deploy again"
            )
        version = response.headers.get("x-ms-version-id")
        if not version:
            raise DeployError("Astro's upload URL accepted the bundle but returned no version id")
        return version

    def _call(self, method: str, path: str, what: str, **kwargs) -> dict:
        try:
            response = self._session.request(
                method, self.base + path, timeout=self.timeout, **kwargs
            )
        except requests.ConnectionError:
            raise TargetUnreachable(
                f"Cannot reach the Astro API at {self.base.split('/organizations')[0]}"
            ) from None
        except requests.Timeout:
            raise TargetUnreachable(f"The Astro API did not answer in {self.timeout:g} s") from None
        if response.status_code in (401, 403):
            raise TargetAuthError(
                f"Astro refused the API token (HTTP {response.status_code}): it is wrong, expired or lacks Deployment access; set a new token"
            )
        if response.status_code == 404:
            raise DeployError(
                f"Astro does not know deployment {self.deployment_id!r} in this organization; check the organization and deployment ids"
            )
        if response.status_code >= 300:
            raise DeployError(
                f"Astro could not {what} (HTTP {response.status_code}): {_message(response)}"
            )
        try:
            return response.json()
        except ValueError:
            return {}


def _message(response) -> str:
    try:
        return str(response.json().get("message", ""))[:300]
    except ValueError:
        return response.text[:300]
