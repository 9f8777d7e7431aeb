"""REST routes under /mvdp/ (docs/api.md): thin, parse -> manager -> JSON.

Every handler is ``@web.authenticated`` + ``@authorized`` with its own auth resource, so
jupyter_server's authorizer (JupyterHub scopes included) decides. Errors are mapped to HTTP in
one place, ``MvdpHandler.write_error``: an ``MvdpError`` becomes its status and JSON message;
anything else a generic 500, logged server-side, with no traceback for the client.
"""

from __future__ import annotations

import asyncio
import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import ensure_async
from tornado import web

from ..core import params
from ..exceptions import MvdpError, NotebookNotFound, TargetError, error_document
from . import documents

AUTH_NOTEBOOKS, AUTH_PLANS, AUTH_TARGETS, AUTH_RUNS = (
    "mvdp:notebooks",
    "mvdp:plans",
    "mvdp:targets",
    "mvdp:runs",
)
_CHECK_TIMEOUT = 5.0


class MvdpHandler(APIHandler):
    """Base of all routes: the manager, the user, JSON bodies, one error mapping."""

    @property
    def manager(self):
        return self.settings["mvdp_manager"]

    @property
    def user(self) -> str:
        """Whose runs these are. With jupyter_server's own token/password identity every
        request is the server's owner (token requests get a random anonymous name each time),
        so the owner is JUPYTERHUB_USER or the OS user; a real identity provider (JupyterHub,
        an OAuth IdP on a shared server) names the requester."""
        if type(self.identity_provider) in (IdentityProvider, PasswordIdentityProvider):
            return self.manager.user
        return self.current_user.username

    def page_args(self) -> dict:
        """The page query's arguments given (sort, order, state, offset, limit)."""
        names = ("sort", "order", "state", "offset", "limit")
        return {n: v for n in names if (v := self.get_query_argument(n, None)) is not None}

    def body(self, kind: str) -> dict:
        """The request body, parsed strictly and checked against its schema (documents.py)."""
        return documents.body(self.request.body, kind)

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        status, body = error_document(
            error, self._reason, "Internal error in jupyter-mvdp; see the server log."
        )
        if status is not None:
            self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, MvdpError):  # the user's problem, not a server bug: one line
            self.log.warning(
                "jupyter-mvdp %s %s: %s", self.request.method, self.request.path, value.message
            )
        else:
            super().log_exception(typ, value, tb)

    async def notebook(self, path: object, field: str = "notebook") -> tuple[str, dict]:
        """``(normalized path, notebook)``: the path passes the one gate (paths.py) first,
        then the contents manager opens exactly the path that was checked."""
        _, relative = self.manager.paths.notebook(path, field)
        try:
            model = await ensure_async(
                self.contents_manager.get(relative, content=True, type="notebook")
            )
        except web.HTTPError as e:
            if e.status_code in (400, 404):
                raise NotebookNotFound(f"{field}: notebook not found: {relative}") from None
            raise
        return relative, model["content"]


def _parameters_doc(path: str, nb) -> dict:
    return {"path": path, **params.inspect(nb).to_json()}


class ParametersHandler(MvdpHandler):
    auth_resource = AUTH_NOTEBOOKS

    @web.authenticated
    @authorized
    async def get(self, path: str):
        self.finish(_parameters_doc(*await self.notebook(path)))


class ParametersCellHandler(MvdpHandler):
    auth_resource = AUTH_NOTEBOOKS

    @web.authenticated
    @authorized
    async def post(self, path: str):
        body = self.body("parameters-cell")
        index, tagged = body["cell_index"], body.get("tagged", True)
        path, nb = await self.notebook(path)
        untagged = params.set_parameters_tag(nb, index, tagged)
        await ensure_async(
            self.contents_manager.save({"type": "notebook", "format": "json", "content": nb}, path)
        )
        doc = {"path": path, "cell_index": None, "parameters": [], "untagged": untagged}
        if tagged:
            doc.update(_parameters_doc(path, nb))
        self.finish(doc)


class ValidateHandler(MvdpHandler):
    auth_resource = AUTH_PLANS

    @web.authenticated
    @authorized
    async def post(self):
        body = self.body("validate")
        notebook, _ = await self.notebook(body["notebook"])  # 4xx before anything else
        result = await asyncio.to_thread(
            self.manager.validate, notebook, body.get("plan"), body.get("target")
        )
        self.finish(result)


class TargetsHandler(MvdpHandler):
    auth_resource = AUTH_TARGETS

    @web.authenticated
    @authorized
    async def get(self):
        targets = self.manager.targets
        checks = await asyncio.gather(*(self._check(t) for t in targets.values()))
        self.finish(
            {
                "targets": [
                    {
                        **t.describe(),
                        "default": name == self.manager.default_target,
                        **check,
                        # what the panel may offer (the hub service's, once it answered)
                        "policy": self.manager.policy(t).to_json(),
                    }
                    for (name, t), check in zip(targets.items(), checks, strict=True)
                ]
            }
        )

    async def _check(self, target) -> dict:
        try:
            await asyncio.wait_for(asyncio.to_thread(target.check), _CHECK_TIMEOUT)
        except TargetError as e:
            return {"reachable": False, "message": e.message}
        except TimeoutError:
            return {
                "reachable": False,
                "message": f"{target.name} did not answer in {_CHECK_TIMEOUT:g} s",
            }
        return {"reachable": True, "message": None}


class MetricsHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self):
        notebook = self.get_query_argument("notebook", "")
        self.finish({"metrics": self.manager.known_metrics(notebook, self.user)})


class RunsHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self):
        # warnings: what went wrong with the run store itself (set aside, missing)
        runs = await asyncio.to_thread(self.manager.documents, self.user)
        warnings = self.manager.store_notices()
        self.finish({"runs": runs, "warnings": warnings})

    @web.authenticated
    @authorized
    async def post(self):
        body = self.body("run")
        notebook, _ = await self.notebook(body["notebook"])
        manager = self.manager
        # the plan first (4xx, nothing touched), then the target (502 when down), then store
        spec = await asyncio.to_thread(
            manager.prepare, notebook, body.get("plan"), body.get("target"), self.user
        )
        await asyncio.to_thread(manager.target(spec.target).check)
        run_id = await asyncio.to_thread(manager.start, spec, True, self.user)
        self.set_status(202)
        self.finish(self.manager.view(run_id, self.user))


class RunHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        """The run's summary and its first page of points (``?sort=&order=&state=&limit=``
        as for its points)."""
        doc = await asyncio.to_thread(self.manager.view, run_id, self.user, **self.page_args())
        self.finish(doc)

    @web.authenticated
    @authorized
    async def delete(self, run_id: str):
        outputs = self.get_query_argument("outputs", "false").lower() in ("1", "true", "yes")
        await asyncio.to_thread(self.manager.delete, run_id, self.user, outputs)
        self.set_status(204)
        self.finish()


class CancelHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def post(self, run_id: str):
        await asyncio.to_thread(self.manager.cancel, run_id, self.user)
        self.finish(self.manager.view(run_id, self.user))


class PointsHandler(MvdpHandler):
    """A page of a run's points, sorted and filtered on the server (core/document.py)."""

    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        page = await asyncio.to_thread(self.manager.points, run_id, self.user, **self.page_args())
        self.finish(page)


class DagHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self, run_id: str):
        self.finish({"source": self.manager.dag_source(run_id, self.user)})


class LogHandler(MvdpHandler):
    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self, run_id: str, point_id: str):
        log = await asyncio.to_thread(self.manager.point_log, run_id, point_id, self.user)
        self.finish({"log": log})


class HistoryHandler(MvdpHandler):
    """A pipeline over time: its runs (whoever started them) and its champions."""

    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self, pipeline: str):
        try:
            limit = int(self.get_query_argument("limit", "100"))
        except ValueError:
            raise MvdpError("limit: expected a whole number of runs") from None
        if not 1 <= limit <= 1000:
            raise MvdpError("limit: expected 1 to 1000 runs")
        doc = await asyncio.to_thread(self.manager.history, pipeline, self.user, limit)
        self.finish(doc)


class StatusHandler(MvdpHandler):
    """How busy the watcher is: active runs and target polls so far (for monitoring)."""

    auth_resource = AUTH_RUNS

    @web.authenticated
    @authorized
    async def get(self):
        watcher = self.settings["mvdp_watcher"]
        self.finish(
            {
                "active_runs": len(self.manager.active_runs()),
                "polls": watcher.polls,
                "poll_interval": watcher.interval,
                # looks at the targets for runs started there (one call per target each)
                "discoveries": self.manager.discovery.looks,
                "discover_interval": watcher.discover_interval,
            }
        )


def routes() -> list[tuple[str, type]]:
    """The extension's routes (relative to the server's base URL)."""
    run = r"/mvdp/runs/(?P<run_id>[\w.:+-]+)"
    return [
        (r"/mvdp/notebooks/(?P<path>.+)/parameters", ParametersHandler),
        (r"/mvdp/notebooks/(?P<path>.+)/parameters-cell", ParametersCellHandler),
        (r"/mvdp/plans/validate", ValidateHandler),
        (r"/mvdp/targets", TargetsHandler),
        (r"/mvdp/metrics", MetricsHandler),
        (r"/mvdp/status", StatusHandler),
        (r"/mvdp/runs", RunsHandler),
        (r"/mvdp/pipelines/(?P<pipeline>[A-Za-z0-9_][A-Za-z0-9_.-]*)/history", HistoryHandler),
        (run, RunHandler),
        (run + r"/cancel", CancelHandler),
        (run + r"/dag", DagHandler),
        (run + r"/points", PointsHandler),
        (run + r"/points/(?P<point_id>[\w-]+)/log", LogHandler),
    ]
