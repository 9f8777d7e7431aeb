"""The Jupyter server extension: configuration, the run manager, routes, the watcher.

Every swappable part is a traitlets ``Type`` and every setting a configurable trait, as
jupyter-scheduler does, so a deployment changes them in ``jupyter_server_config.py``::

    c.MvdpApp.targets = {"prod": {"kind": "airflow", "api_url": "https://airflow.example.com",
                                  "username": "mvdp", "password_env": "AIRFLOW_PASSWORD", ...}}
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from tornado.ioloop import IOLoop
from traitlets import Dict, Float, Int, Type, Unicode, default

from . import grid
from .handlers import routes
from .manager import DEFAULT_UNREACHABLE_LIMIT, RunManager
from .outputs import contents_saver
from .runs import RunStore, default_db_path
from .targets import build_targets
from .watcher import Watcher

EVENT_SCHEMA = Path(__file__).parent / "event_schemas" / "run" / "v1.yaml"
EVENT_SCHEMA_ID = "https://events.jupyter.org/jupyter_mvdp/run/v1"


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
    store_class = Type(RunStore, config=True, help="The run store.")
    manager_class = Type(RunManager, config=True, help="Productionizes and follows runs.")

    @default("db_path")
    def _default_db_path(self) -> str:
        return str(default_db_path())

    def initialize_settings(self) -> None:
        self.store = self.store_class(self.db_path)
        event_logger = self.serverapp.event_logger
        event_logger.register_event_schema(EVENT_SCHEMA)
        io_loop = IOLoop.current()

        def emit(event: dict) -> None:  # called from worker threads: hop onto the event loop
            io_loop.add_callback(event_logger.emit, schema_id=EVENT_SCHEMA_ID, data=event)

        self.manager = self.manager_class(
            self.store,
            build_targets(self.targets),
            root_dir=self.serverapp.root_dir,
            user=os.environ.get("JUPYTERHUB_USER"),
            outputs_dir=self.outputs_dir,
            grid_limit=self.grid_limit,
            default_target=self.default_target,
            emit=emit,
            save_output=contents_saver(self.serverapp.contents_manager, io_loop.asyncio_loop),
            poll_interval=self.poll_interval,
            unreachable_limit=self.unreachable_limit,
        )
        self.watcher = Watcher(self.manager, self.poll_interval)
        self.settings.update(mvdp_manager=self.manager, mvdp_watcher=self.watcher)
        io_loop.add_callback(self._start_watching)

    def _start_watching(self) -> None:
        """A restarted server picks its unfinished runs up again, then follows them."""
        try:
            self.manager.resume_all()
        except Exception:
            self.log.exception("jupyter-mvdp: resuming runs failed")
        self.watcher.start()

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())

    async def stop_extension(self) -> None:
        await self.watcher.stop()
        self.store.close()
