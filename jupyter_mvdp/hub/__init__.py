"""The JupyterHub service mode: the team's Airflow (and storage) credentials live in one
JupyterHub service (``python -m jupyter_mvdp.hub``), never in users' servers. Users' servers
reach it with their own hub token through the ``hub`` target (targets/hub/); the service
renders and deploys DAGs itself, into the token owner's namespace only, under the admin's
policy. ``app.py``: what the service does; ``handlers.py``: its HTTP routes and the hub
authentication; ``__main__.py``: the command the hub starts."""
