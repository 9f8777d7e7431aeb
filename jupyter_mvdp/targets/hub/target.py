"""The ``hub`` target: a user's server productionizes through the team's JupyterHub service
(jupyter_mvdp/hub), which holds the Airflow and storage credentials; this server holds none.

It sends the notebook and the plan (never a DAG: the service renders the one it deploys),
with the user's own hub token (``$JUPYTERHUB_API_TOKEN``, the server's). Parameters and
validation stay local; the policy shown and checked is the service's (``served_policy``),
which checks it again. Rendering asks the service for the DAG it would deploy (what the run
view shows), a deploy waits until the service triggered the run, and following, outputs,
logs and cancel go through the service, for this user's runs only.

Settings: ``url`` (the service, e.g. ``http://hub:10101/services/mvdp/``), ``target`` (the
service's target, default this target's name), ``token_env``, ``request_timeout``,
``deploy_timeout``.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from ...core.models import PointStatus, RunSpec, Snapshot
from ...core.policy import Policy
from ...exceptions import (
    DeployError,
    MvdpError,
    RunConflict,
    TargetUnreachable,
    UnknownTarget,
)
from ..base import Capabilities, Progress, Target, _silent
from ..registry import register
from .client import ServiceClient, without_outputs

_POLICY_AGE = 60.0  # seconds the service's policy is used before it is asked again


@register
class HubTarget(Target):
    kind = "hub"
    capabilities = Capabilities(
        has_dag=True, can_cancel=True, reads_logs=True, writes_workspace=False
    )
    secret_settings = ("token",)

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str,
        target: str | None = None,
        token_env: str = "JUPYTERHUB_API_TOKEN",
        request_timeout: float = 30,
        deploy_timeout: float = 600,
        **settings: Any,
    ):
        super().__init__(
            name,
            url=url.rstrip("/") + "/",
            target=target or name or self.kind,
            token_env=token_env,
            deploy_timeout=deploy_timeout,
            **settings,
        )
        self.client = ServiceClient(self.settings["url"], token_env, request_timeout)
        self._policy: tuple[float, Policy] | None = None  # (when, the service's policy)
        self._asked = -_POLICY_AGE  # when the service was last asked

    # --- what the service serves --------------------------------------------------------

    def _remote(self) -> dict:
        """This target as the service describes it (reachable, policy); the policy kept."""
        self._asked = time.monotonic()
        served = self.client.call("GET", "api/targets")["targets"]
        name = self.settings["target"]
        doc = next((t for t in served if t["name"] == name), None)
        if doc is None:
            known = ", ".join(t["name"] for t in served) or "none"
            raise UnknownTarget(f"The hub service has no target {name!r} (it serves: {known})")
        policy = {k: v for k, v in doc["policy"].items() if k != "presets"}
        self._policy = (time.monotonic(), Policy.from_json(policy))
        return doc

    def check(self) -> None:
        doc = self._remote()
        if not doc["reachable"]:
            raise TargetUnreachable(doc["message"] or f"{self.settings['target']} is unreachable")

    def served_policy(self) -> Policy | None:
        """The service's policy, asked at most once a minute (``check`` asks it too, so
        right after a check, as ``GET /mvdp/targets`` does, this never waits on the network)."""
        now = time.monotonic()
        stale = self._policy is None or now - self._policy[0] > _POLICY_AGE
        if stale and now - self._asked > _POLICY_AGE:
            with contextlib.suppress(MvdpError):  # the service checks again at deploy
                self._remote()
        return self._policy[1] if self._policy else None

    # --- productionize ------------------------------------------------------------------

    def _body(self, spec: RunSpec) -> dict:
        body = {
            "target": self.settings["target"],
            "notebook": spec.notebook_path or Path(spec.notebook).name,
            "content": self._notebook(spec.notebook, spec.notebook_sha256, spec),
            "plan": spec.plan.to_json(),
            "pipeline": spec.pipeline,
            "champion": spec.champion,
        }
        if spec.deploy_notebook:
            sha = getattr(spec, "deploy_notebook_sha256", None)
            body["deploy_content"] = self._notebook(spec.deploy_notebook, sha, spec)
        return body

    @staticmethod
    def _notebook(path: str, sha256: str | None, spec: RunSpec) -> dict:
        """The notebook as read at submit (the spec's snapshot), else from its file."""
        data = getattr(spec, "snapshots", {}).get(sha256) if sha256 else None
        data = data if data is not None else Path(path).read_bytes()
        return without_outputs(json.loads(data))

    def render(self, spec: RunSpec) -> str:
        """The DAG the service would deploy (it checks the namespace and the policy)."""
        return self.client.call("POST", "api/render", self._body(spec))["dag_source"]

    def deploy(self, spec: RunSpec, progress: Progress = _silent) -> None:
        """Hand the notebook and plan to the service; return once it triggered the run."""
        doc = self.client.call("POST", "api/runs", {**self._body(spec), "run_id": spec.run_id})
        deadline = time.monotonic() + self.settings["deploy_timeout"]
        said = None
        while doc["state"] == "queued":
            if doc["progress"] and doc["progress"] != said:
                said = doc["progress"]
                progress(said)
            if time.monotonic() > deadline:
                raise DeployError(f"The hub service did not deploy {spec.pipeline} in time")
            time.sleep(0.5)
            doc = self.client.call("GET", f"api/runs/{spec.run_id}")
        if doc["state"] in ("failed", "cancelled") and not doc.get("dag_run_id"):
            raise DeployError(doc["message"] or f"The hub service could not deploy {spec.pipeline}")
        spec.dag_source = doc.get("dag_source") or spec.dag_source
        spec.extra["dag_run_id"] = doc.get("dag_run_id") or spec.run_id

    def trigger(self, spec: RunSpec) -> None:
        """The service triggers the run it deployed (``deploy`` waited for that)."""

    # --- follow -------------------------------------------------------------------------

    def poll(self, spec: RunSpec) -> Snapshot:
        doc = self.client.call("GET", f"api/runs/{spec.run_id}/snapshot")
        points = {pid: PointStatus(**status) for pid, status in doc.pop("points").items()}
        return Snapshot(points=points, **doc)

    def fetch_output(self, spec: RunSpec, point_id: str, dest: Path) -> Path | None:
        data = self.client.call("GET", f"api/runs/{spec.run_id}/points/{point_id}/output", raw=True)
        if data is None:
            return None
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return dest

    def cancel(self, spec: RunSpec, reason: str | None = None) -> None:
        with contextlib.suppress(RunConflict):  # it ended there meanwhile: a poll says how
            self.client.call("POST", f"api/runs/{spec.run_id}/cancel", {"reason": reason})

    def logs(self, spec: RunSpec, point_id: str) -> str:
        return self.client.call("GET", f"api/runs/{spec.run_id}/points/{point_id}/log")["log"]
