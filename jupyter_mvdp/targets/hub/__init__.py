"""The ``hub`` target: productionize through the team's JupyterHub service (jupyter_mvdp/hub),
which holds the credentials; ``target.py`` (the target), ``client.py`` (the service's API)."""

from .target import HubTarget

__all__ = ["HubTarget"]
