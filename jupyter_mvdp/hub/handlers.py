"""The hub service's routes (under its JupyterHub prefix, ``/services/<name>/api/``), each
authenticated as a hub user by JupyterHub (``jupyterhub.services.auth.HubAuth``): the request's
token is resolved by the hub to its owner, who must hold the service's access scope
(``access:services!service=<name>``). A token the hub does not know, a service's token, or
one without the scope gets 403, before any route runs. Errors are JSON, mapped in one place
as the server extension does (``write_error``); no answer ever holds a credential.

| route                                   | what                                             |
| --------------------------------------- | ------------------------------------------------ |
| GET  api/targets                        | the served targets: reachable, policy            |
| POST api/render                         | the DAG the service would deploy (a dry run)     |
| POST api/runs                           | render, store, deploy and trigger (202)          |
| GET  api/runs/<id>                      | the run's state, progress, message, DAG          |
| GET  api/runs/<id>/snapshot             | one poll of the target (``Target.poll``)         |
| GET  api/runs/<id>/points/<p>/output    | the point's output notebook                      |
| GET  api/runs/<id>/points/<p>/log       | the point's log                                  |
| POST api/runs/<id>/cancel               | stop it                                          |
"""

from __future__ import annotations

import asyncio
import json
import logging

from jupyterhub.services.auth import HubAuth
from tornado import web

from ..exceptions import MvdpError, RunNotFound, error_document
from ..server import documents
from .app import HubService

log = logging.getLogger("jupyter_mvdp.hub")
_CHECK_TIMEOUT = 10.0


class ServiceHandler(web.RequestHandler):
    """Base of the routes: the hub user of the request (``self.owner``), JSON, errors."""

    owner: str

    @property
    def service(self) -> HubService:
        return self.settings["mvdp_service"]

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings["hub_auth"]

    async def prepare(self) -> None:
        """The token's owner, as the hub says: a hub user holding the service's scope."""
        token = self.hub_auth.get_token(self, in_cookie=False)
        model = await self.hub_auth.user_for_token(token, sync=False) if token else None
        if not model:
            raise web.HTTPError(403, "a valid JupyterHub token is needed")
        if model.get("kind", "user") != "user":
            raise web.HTTPError(403, "only hub users have a namespace here, not services")
        scopes = self.hub_auth.access_scopes
        if scopes and not self.hub_auth.check_scopes(scopes, model):
            raise web.HTTPError(403, f"the token lacks the scope {' or '.join(sorted(scopes))}")
        self.owner = model["name"]

    def body(self, kind: str) -> dict:
        return documents.body(self.request.body, kind)

    def send(self, doc: dict, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc))

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        status, body = error_document(
            error, self._reason, "Internal error in the jupyter-mvdp hub service; see its log."
        )
        if status is not None:
            self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, MvdpError):  # the user's problem: one line, no traceback
            log.warning(
                "%s %s (%s): %s",
                self.request.method,
                self.request.path,
                getattr(self, "owner", "?"),
                value.message,
            )
        else:
            super().log_exception(typ, value, tb)


class TargetsHandler(ServiceHandler):
    async def get(self):
        names = list(self.service.targets)
        docs = await asyncio.gather(*(self._doc(name) for name in names))
        self.send({"targets": docs})

    async def _doc(self, name: str) -> dict:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self.service.target_doc, name), _CHECK_TIMEOUT
            )
        except TimeoutError:
            target = self.service.targets[name]
            policy = self.service.manager.policy(target).to_json()
            message = f"{name} did not answer in {_CHECK_TIMEOUT:g} s"
            return {"name": name, "kind": target.kind, "reachable": False, "message": message,
                    "capabilities": target.capabilities.to_json(), "policy": policy}  # fmt: skip


class RenderHandler(ServiceHandler):
    async def post(self):
        body = self.body("hub-run")
        self.send(await asyncio.to_thread(self.service.render, self.owner, body))


class RunsHandler(ServiceHandler):
    async def post(self):
        body = self.body("hub-run")
        self.send(await asyncio.to_thread(self.service.submit, self.owner, body), 202)


class RunHandler(ServiceHandler):
    async def get(self, run_id: str):
        self.send(await asyncio.to_thread(self.service.run_doc, self.owner, run_id))


class SnapshotHandler(ServiceHandler):
    async def get(self, run_id: str):
        self.send(await asyncio.to_thread(self.service.snapshot, self.owner, run_id))


class OutputHandler(ServiceHandler):
    async def get(self, run_id: str, point_id: str):
        data = await asyncio.to_thread(self.service.output, self.owner, run_id, point_id)
        if data is None:
            raise RunNotFound(f"Point {point_id} of run {run_id} has no output notebook yet")
        self.set_header("Content-Type", "application/x-ipynb+json")
        self.finish(data)


class LogHandler(ServiceHandler):
    async def get(self, run_id: str, point_id: str):
        text = await asyncio.to_thread(self.service.log, self.owner, run_id, point_id)
        self.send({"log": text})


class CancelHandler(ServiceHandler):
    async def post(self, run_id: str):
        reason = self.body("hub-cancel").get("reason")
        self.send(await asyncio.to_thread(self.service.cancel, self.owner, run_id, reason))


def routes(prefix: str) -> list[tuple[str, type]]:
    """The routes under the service's prefix (``JUPYTERHUB_SERVICE_PREFIX``)."""
    api = prefix.rstrip("/") + "/api"
    run = api + r"/runs/(?P<run_id>[\w.:+-]+)"
    point = run + r"/points/(?P<point_id>[\w-]+)"
    return [
        (api + "/targets", TargetsHandler),
        (api + "/render", RenderHandler),
        (api + "/runs", RunsHandler),
        (run, RunHandler),
        (run + "/snapshot", SnapshotHandler),
        (run + "/cancel", CancelHandler),
        (point + "/output", OutputHandler),
        (point + "/log", LogHandler),
    ]


def make_app(service: HubService, prefix: str, hub_auth: HubAuth | None = None) -> web.Application:
    """The service's tornado application; ``hub_auth`` from the hub's environment by default
    (``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_API_URL``, the service's name for its scope)."""
    if hub_auth is None:
        hub_auth = HubAuth(cache_max_age=60)
    hub_auth.allow_token_in_url = False  # a token in a URL ends up in access logs
    return web.Application(routes(prefix), mvdp_service=service, hub_auth=hub_auth)
