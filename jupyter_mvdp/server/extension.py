"""The Jupyter server extension: configuration, the run manager, routes, the watcher.

Every swappable part is a traitlets ``Type`` and every setting a configurable trait, as
jupyter-scheduler does, so a deployment changes them in ``jupyter_server_config.py``::

    c.MvdpApp.targets = {"prod": {"kind": "airflow", "api_url": "https://airflow.example.com",
                                  "username": "mvdp", "password_env": "AIRFLOW_PASSWORD", ...}}
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from traitlets import Bool, Dict, Float, Int, Type, Unicode, default

from ..core import events, grid
from ..core.policy import Policies
from ..exceptions import MvdpError, StoreUnavailable
from ..service.manager import DEFAULT_UNREACHABLE_LIMIT, RunManager
from ..service.paths import DEFAULT_FILE_LIMIT, DEFAULT_FILES_LIMIT
from ..service.store import RunStore, default_db_path
from ..service.storefile import UnavailableStore
from ..service.watcher import Watcher
from ..targets import build_targets, target_class
from .compare import hide_papermill_metadata
from .handlers import routes
from .outputs import contents_saver

EVENT_SCHEMA, EVENT_SCHEMA_ID = events.SCHEMA_PATH, events.SCHEMA_ID


class MvdpApp(ExtensionApp):
    name = "jupyter_mvdp"

    targets = Dict(
        config=True,
        help=(
            "Targets by name: {name: {'kind': 'local' | 'airflow' | 'astro', ...settings}}. "
            "'local' (the embedded runner) is always there unless redefined."
        ),
    )
    default_target = Unicode("local", config=True, help="Target used when a request names none.")
    db_path = Unicode(
        config=True, help="SQLite file of runs (default: under the Jupyter data dir)."
    )
    poll_interval = Float(1.0, config=True, help="Seconds between two polls of an active run.")
    discover_interval = Float(
        5.0,
        config=True,
        help=(
            "Seconds between two looks at each target for runs of the deployed pipelines that "
            "were started there (the plan's schedule, Airflow's UI or API): one call per target."
        ),
    )
    unreachable_limit = Float(
        DEFAULT_UNREACHABLE_LIMIT,
        config=True,
        help=(
            "Seconds a run's target may stay unreachable (or refuse the credentials) before "
            "the run is reported 'unknown' instead of 'running'; it resumes if the target returns."
        ),
    )
    grid_limit = Int(grid.DEFAULT_LIMIT, config=True, help="Most points a plan may have.")
    outputs_dir = Unicode(
        "mvdp-runs", config=True, help="Folder (under the server root) of output notebooks."
    )
    shared_outputs = Bool(
        False,
        config=True,
        help=(
            "Output notebooks and point logs readable by other users as the umask allows; by "
            "default they (and the run store, always) are their owner's only (0600 / 0700)."
        ),
    )
    policy = Dict(
        config=True,
        help=(
            "What a plan may ask of a target (jupyter_mvdp/core/policy.py): queues, pools, "
            "executor_config / pod_override fields, images, secrets, service accounts, node "
            "selectors, tolerations, CPU / memory, grid size, parallelism, active runs per "
            "user, schedules; {'targets': {name: {...}}} where a target differs. Unset: the "
            "strict default (no queue, pool or executor_config; presets at most hourly)."
        ),
    )
    file_size_limit = Int(
        DEFAULT_FILE_LIMIT,
        config=True,
        help="Bytes one file of a plan's `files` may weigh (they travel with the notebook).",
    )
    files_size_limit = Int(
        DEFAULT_FILES_LIMIT,
        config=True,
        help="Bytes all the files of a plan's `files` may weigh together.",
    )
    store_class = Type(RunStore, config=True, help="The run store.")
    manager_class = Type(RunManager, config=True, help="Productionizes and follows runs.")

    @default("db_path")
    def _default_db_path(self) -> str:
        return str(default_db_path())

    def initialize_settings(self) -> None:
        try:
            self.store = self.store_class(self.db_path)
        except StoreUnavailable as e:  # the routes that need runs say why (503)
            self.log.error("jupyter-mvdp: %s", e.message)
            self.store = UnavailableStore(e, self.db_path)
        for problem in self.store.problems:  # a damaged store set aside, a missing one
            self.log.warning("jupyter-mvdp: %s", problem)
        event_logger = self.serverapp.event_logger
        event_logger.register_event_schema(EVENT_SCHEMA)
        io_loop = IOLoop.current()

        def emit(event: dict) -> None:  # called from worker threads: hop onto the event loop
            io_loop.add_callback(event_logger.emit, schema_id=EVENT_SCHEMA_ID, data=event)

        self.manager = self.manager_class(
            self.store,
            self._build_targets(),
            root_dir=self.serverapp.root_dir,
            user=os.environ.get("JUPYTERHUB_USER"),
            outputs_dir=self.outputs_dir,
            grid_limit=self.grid_limit,
            default_target=self.default_target,
            emit=emit,
            save_output=contents_saver(
                self.serverapp.contents_manager, io_loop.asyncio_loop, shared=self.shared_outputs
            ),
            allow_hidden=self.serverapp.contents_manager.allow_hidden,
            poll_interval=self.poll_interval,
            unreachable_limit=self.unreachable_limit,
            shared_outputs=self.shared_outputs,
            policy=self._build_policy(),
            file_limit=self.file_size_limit,
            files_limit=self.files_size_limit,
        )
        self._stop_signal: str | None = None
        self.watcher = Watcher(self.manager, self.poll_interval, self.discover_interval)
        self.settings.update(mvdp_manager=self.manager, mvdp_watcher=self.watcher)
        io_loop.add_callback(self._start_watching)

    def _build_targets(self) -> dict:
        """The configured targets; one that cannot be built is left out (and named in the
        log) so the others, and the local runner, still work.

        traitlets logs the whole config at DEBUG ("Config changed: ...") before any extension
        runs, so an inline secret would already be in the log: only ``*_env`` / ``*_file``
        forms are accepted in the server's config, and a target that breaks this is refused
        (its value never logged by us)."""
        built = build_targets({})
        for name, settings in self.targets.items():
            settings = dict(settings)
            try:
                cls = target_class(settings.get("kind", name))
                inline = [key for key in cls.secret_settings if settings.get(key)]
                if inline:
                    raise ValueError(
                        f"it has an inline {inline[0]}; give it as {inline[0]}_env "
                        f"(an environment variable) or {inline[0]}_file instead"
                    )
                built.update(build_targets({name: settings}))
            except Exception as e:  # a misconfigured target must not take the extension down
                reason = e.message if isinstance(e, MvdpError) else str(e)
                self.log.error("jupyter-mvdp: target %r is not loaded: %s", name, reason)
                built.pop(name, None)
        return built

    def _build_policy(self) -> Policies:
        """The admin's policy; a policy that does not read is named in the log and the
        strict default applies instead (never an open one)."""
        try:
            return Policies(self.policy)
        except ValueError as e:
            self.log.error(
                "jupyter-mvdp: c.MvdpApp.policy is not used (%s); the default applies", e
            )
            return Policies()

    def _start_watching(self) -> None:
        """A restarted server picks its unfinished runs up again, then follows them."""
        self._watch_stop_signals()
        try:
            self.manager.resume_all()
        except Exception:
            self.log.exception("jupyter-mvdp: resuming runs failed")
        self.watcher.start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())
        # nbdime's extension resets its differs as it loads: ours go in once all are loaded
        IOLoop.current().add_callback(hide_papermill_metadata)

    def _watch_stop_signals(self) -> None:
        """SIGTERM, SIGHUP (and SIGINT without a terminal) stop the server cleanly, and the
        signal's name is kept so local runs are recorded as cancelled by it."""
        stop = self.serverapp._signal_stop
        signals = [signal.SIGTERM, getattr(signal, "SIGHUP", None)]
        if not (sys.stdin and sys.stdin.isatty()):
            signals.append(signal.SIGINT)

        def handler(signum, frame):
            self._stop_signal = signal.Signals(signum).name
            stop(signum, frame)

        for sig in filter(None, signals):
            signal.signal(sig, handler)

    async def stop_extension(self) -> None:
        reason = "the Jupyter server stopped"
        if self._stop_signal:
            reason += f" ({self._stop_signal})"
        await asyncio.to_thread(self.manager.shutdown, reason)
        await self.watcher.stop()
        self.manager.close()
