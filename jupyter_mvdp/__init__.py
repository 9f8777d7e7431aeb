"""jupyter-mvdp: from a parameterized notebook to a production pipeline in one click."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "dev"

from .core.metrics import record

__all__ = ["__version__", "record"]


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyter-mvdp"}]


def _jupyter_server_extension_points():
    from .server.extension import MvdpApp

    return [{"module": "jupyter_mvdp", "app": MvdpApp}]
