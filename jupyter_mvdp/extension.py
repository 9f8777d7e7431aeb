"""The Jupyter server extension (filled in by the server-extension issue)."""

from jupyter_server.extension.application import ExtensionApp


class MvdpApp(ExtensionApp):
    name = "jupyter_mvdp"
