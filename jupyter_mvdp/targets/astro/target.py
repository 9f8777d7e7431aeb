"""Astronomer (Astro) as a target: deliver through Astro's deploy API, then drive the
deployment's own Airflow REST API exactly as the Airflow target does.

Only delivery differs from a self-managed Airflow, so this subclasses AirflowTarget and
replaces the one step that writes files: each pipeline becomes its own BUNDLE deploy mounted
at ``<bundle_root>/<pipeline>``, so a deploy never touches the team's other DAGs (a DAG_ONLY
deploy would replace the whole dags folder). The deployment API token (from ``token_env`` or
``token_file``, never from the browser) authenticates both the deploy API and the
deployment's Airflow API.
"""

from __future__ import annotations

import time
from typing import Any

from ...core.models import RunSpec
from ...exceptions import TargetAuthError
from ...render.dag import runtime_files
from ..airflow.deliver import ship
from ..airflow.target import AirflowTarget
from ..base import Progress, _silent
from ..registry import register
from ..secrets import credential
from .deploy_api import DEFAULT_API, AstroDeployClient


@register
class AstroTarget(AirflowTarget):
    """Settings: ``organization_id``, ``deployment_id``, ``airflow_url`` (the deployment's
    Airflow, e.g. ``https://<id>.astronomer.run/<dep>``), ``token_env`` (default
    ``ASTRO_API_TOKEN``) or ``token_file``, ``api_url`` of Astro's platform API,
    ``bundle_root`` (where bundles are mounted), ``outputs_location`` (an fsspec URL the
    deployment writes and the lab reads, e.g. ``s3://bucket/mvdp``)."""

    kind = "astro"
    secret_settings = ("password", "token")

    def __init__(
        self,
        name: str | None = None,
        *,
        organization_id: str,
        deployment_id: str,
        airflow_url: str,
        outputs_location: str,
        token_env: str = "ASTRO_API_TOKEN",
        token_file: str | None = None,
        token: str | None = None,
        api_url: str = DEFAULT_API,
        bundle_root: str = "/usr/local/airflow/dags/mvdp",
        **settings: Any,
    ):
        secret = credential("token", token, token_env, token_file)
        super().__init__(
            name,
            api_url=airflow_url,
            dags_location=bundle_root,
            notebooks_location=bundle_root,
            outputs_location=outputs_location,
            token=secret,
            **settings,
        )
        self.settings.update(
            organization_id=organization_id,
            deployment_id=deployment_id,
            astro_api_url=api_url,
            bundle_root=bundle_root.rstrip("/"),
            token_env=token_env,
        )

    def _deploys(self) -> AstroDeployClient:
        s = self.settings
        if not s["token"]:
            raise TargetAuthError(
                f"Astro target {self.name!r} has no API token: set ${s['token_env']} (or token_file) "
                "to a Deployment API token"
            )
        return AstroDeployClient(
            organization_id=s["organization_id"],
            deployment_id=s["deployment_id"],
            token=s["token"],
            api_url=s["astro_api_url"],
            timeout=max(self.timeout, 60),
        )

    def mount_path(self, spec: RunSpec) -> str:
        return f"{self.settings['bundle_root']}/{spec.pipeline}"

    def notebooks_folder(self, spec: RunSpec) -> str:
        return self.mount_path(spec)  # the notebooks are in the pipeline's bundle

    def store_location(self, spec: RunSpec) -> str | None:
        """``store_location``, else ``<outputs_location>/.mvdp-store``: object storage both
        sides reach, where the runs' notebooks, files and versions are kept by content (a
        bundle is replaced whole by each deploy: a dataset in it would be uploaded again,
        and a run in flight would lose the version it runs)."""
        return self.settings.get("store_location") or (
            f"{self.settings['outputs_location']}/.mvdp-store"
        )

    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        self.check()
        ship(spec, self.dag_id(spec), self.version(spec), self.store_location(spec), progress)
        files = {
            f"{spec.pipeline}.py": (spec.dag_source or "").encode(),
            **runtime_files(),  # the rules the DAG imports, at the bundle root (on sys.path)
        }
        progress("deploying the bundle to Astro")
        written = time.time()
        deploy = self._deploys().deploy_bundle(
            self.mount_path(spec), files, description=f"jupyter-mvdp {spec.pipeline} {spec.run_id}"
        )
        spec.extra["astro_deploy_id"] = deploy.id
        self._activate(spec, f"{self.mount_path(spec)}/{spec.pipeline}.py", written, progress)

    def remove(self, pipeline: str) -> None:
        """An empty bundle at the pipeline's mount path, then the DAG itself."""
        self._deploys().deploy_bundle(f"{self.settings['bundle_root']}/{pipeline}", {})
        super().remove(pipeline)
