"""``python -m jupyter_mvdp.hub --config service.json``: the command JupyterHub starts from
``c.JupyterHub.services``. It listens where the hub says (``JUPYTERHUB_SERVICE_URL``), under
the hub's prefix for it (``JUPYTERHUB_SERVICE_PREFIX``), and stops on SIGTERM (the hub's)
or SIGINT. A config that does not read ends it at once with one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from urllib.parse import urlparse

from ..exceptions import MvdpError
from .app import HubService, load_config


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m jupyter_mvdp.hub",
        description="jupyter-mvdp's JupyterHub service: holds the team's Airflow credentials",
    )
    parser.add_argument(
        "--config",
        default=os.environ.get("MVDP_HUB_CONFIG"),
        help='JSON {"targets": {...}, "policy": {...}, "state_dir": ...} ($MVDP_HUB_CONFIG)',
    )
    parser.add_argument("--state-dir", help="its run store and work folder (or state_dir)")
    return parser.parse_args(argv)


async def _serve(service: HubService, host: str, port: int, prefix: str) -> None:
    from .handlers import make_app

    server = make_app(service, prefix).listen(port, address=host, xheaders=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("jupyter_mvdp.hub").info("listening on %s:%s%s", host, port, prefix)
    await stop.wait()
    server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(name)s] %(message)s")
    try:
        if not args.config:
            raise ValueError("give the service's config: --config FILE or $MVDP_HUB_CONFIG")
        config = load_config(args.config)
        state = args.state_dir or config.get("state_dir")
        if not state:
            raise ValueError("give the service a state_dir (its run store and work folder)")
        service = HubService(config, Path(state))
    except (ValueError, MvdpError) as e:
        print(f"jupyter_mvdp.hub: {getattr(e, 'message', e)}", file=sys.stderr)
        return 2
    try:
        import jupyterhub.services.auth  # noqa: F401
    except ImportError:
        print(
            "jupyter_mvdp.hub: it runs where JupyterHub does: pip install jupyterhub",
            file=sys.stderr,
        )
        return 2
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/mvdp/")
    try:
        asyncio.run(_serve(service, url.hostname or "127.0.0.1", url.port or 80, prefix))
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
