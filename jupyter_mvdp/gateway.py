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

The gateway is configured the way jupyter_server configures it: ``JUPYTER_GATEWAY_URL`` and
``JUPYTER_GATEWAY_AUTH_TOKEN`` (and the other ``JUPYTER_GATEWAY_*`` variables) in the
environment of the server, which its point worker processes inherit.
"""

from __future__ import annotations

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

    client_class = DottedObjectName("jupyter_mvdp.gateway.GatewayKernelClient")
    client_factory = Type(klass="jupyter_mvdp.gateway.GatewayKernelClient")

    async def start_kernel(self, **kwargs):
        if self.kernel_name:
            kwargs.setdefault("kernel_name", self.kernel_name)
        if not GatewayClient.instance().gateway_enabled:
            raise RuntimeError(
                "gateway kernels need JUPYTER_GATEWAY_URL (and JUPYTER_GATEWAY_AUTH_TOKEN) "
                "in the server's environment"
            )
        return await super().start_kernel(**kwargs)
