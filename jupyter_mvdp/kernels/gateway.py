"""Grid points on the team's kernels behind a Jupyter (Enterprise) Gateway.

The local target runs each point with papermill, and papermill drives nbclient, which takes
any jupyter_client kernel manager class. jupyter_server's ``GatewayKernelManager`` starts and
talks to a kernel through a gateway's REST API and websocket, so with it every point's kernel
runs where the gateway runs kernels, while papermill still injects the parameters here.

Used as is (jupyter_server 2.x), it fails in two ways this module fixes:

- ``start_kernel`` reads the kernel name from its kwargs only (default ``python3``), so the
  name nbclient/papermill set on the manager is dropped;
- its client opens the kernel's websocket without the gateway's auth header, so a gateway with
  an auth token answers ``401 Unauthorized`` once the kernel has started.

A kernel on the gateway is not a child of the point's worker, so no parent-death signal
stops it: the manager leaves its shutdown as the worker's last words (lifeline.py), said when
a cancel, a timeout or the owner's death ends the point before papermill shut it down.

The gateway is configured the way jupyter_server configures it: ``JUPYTER_GATEWAY_URL`` and
``JUPYTER_GATEWAY_AUTH_TOKEN`` (and the other ``JUPYTER_GATEWAY_*`` variables) in the
environment of the server, which its point worker processes inherit.
"""

from __future__ import annotations

import ssl
import urllib.request
from threading import Thread

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_server.gateway.gateway_client import GatewayClient
from jupyter_server.gateway.managers import (
    GatewayKernelClient as _GatewayKernelClient,
)
from jupyter_server.gateway.managers import (
    GatewayKernelManager as _GatewayKernelManager,
)
from jupyter_server.utils import ensure_async, url_escape, url_path_join
from traitlets import DottedObjectName, Type

from .lifeline import on_death

_LAST_WORDS_SECONDS = 2.0  # the owner kills a stopped worker 3 s after asking it to stop


class GatewayKernelClient(_GatewayKernelClient):
    """The gateway kernel client, sending the gateway's auth headers on its websocket."""

    async def start_channels(self, shell=True, iopub=True, stdin=True, hb=True, control=True):
        import websocket

        gateway = GatewayClient.instance()
        url = url_path_join(
            gateway.ws_url or "", gateway.kernels_endpoint, url_escape(self.kernel_id), "channels"
        )
        self.channel_socket = websocket.create_connection(
            url,
            timeout=gateway.KERNEL_LAUNCH_TIMEOUT,
            enable_multithread=True,
            header=gateway.load_connection_args().get("headers", {}),
            sslopt={
                "ca_certs": gateway.ca_certs,
                "certfile": gateway.client_cert,
                "keyfile": gateway.client_key,
            },
        )
        await ensure_async(
            AsyncKernelClient.start_channels(
                self, shell=shell, iopub=iopub, stdin=stdin, hb=hb, control=control
            )
        )
        self.response_router = Thread(target=self._route_responses, daemon=True)
        self.response_router.start()


class GatewayKernelManager(_GatewayKernelManager):
    """A kernel on the gateway, named by the notebook / plan as for a local kernel."""

    client_class = DottedObjectName("jupyter_mvdp.kernels.gateway.GatewayKernelClient")
    client_factory = Type(klass="jupyter_mvdp.kernels.gateway.GatewayKernelClient")
    _take_back = None  # takes back the worker's last words once papermill shut the kernel

    async def start_kernel(self, **kwargs):
        if self.kernel_name:
            kwargs.setdefault("kernel_name", self.kernel_name)
        if not GatewayClient.instance().gateway_enabled:
            raise RuntimeError(
                "gateway kernels need JUPYTER_GATEWAY_URL (and JUPYTER_GATEWAY_AUTH_TOKEN) "
                "in the server's environment"
            )
        started = await super().start_kernel(**kwargs)
        self._take_back = on_death(lambda kernel_id=self.kernel_id: delete_kernel(kernel_id))
        return started

    async def shutdown_kernel(self, now=False, restart=False):
        await super().shutdown_kernel(now=now, restart=restart)
        if not restart and self._take_back:
            self._take_back()


def delete_kernel(kernel_id: str, timeout: float = _LAST_WORDS_SECONDS) -> None:
    """Shut a kernel down on the gateway, synchronously (in a signal handler or a dying
    worker's thread, no event loop is there to use)."""
    gateway = GatewayClient.instance()
    url = url_path_join(gateway.url, gateway.kernels_endpoint, url_escape(kernel_id))
    headers = gateway.load_connection_args().get("headers", {})
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=gateway.ca_certs)
        if gateway.client_cert:
            context.load_cert_chain(gateway.client_cert, gateway.client_key)
        if not gateway.validate_cert:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(url, method="DELETE", headers=headers)
    urllib.request.urlopen(request, timeout=timeout, context=context).close()
