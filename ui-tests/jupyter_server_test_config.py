"""The JupyterLab server of the Galata tests: a throwaway root, the extension with a fast
watcher, a run store in a temp folder, and an Airflow target that is down (for its error)."""

import json
import os
import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821

c.ServerApp.ip = "127.0.0.1"  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821
c.LabApp.news_url = None  # noqa: F821
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"  # noqa: F821
c.MvdpApp.db_path = str(Path(tempfile.mkdtemp(prefix="mvdp-ui-")) / "runs.sqlite")  # noqa: F821
# where a spec that stores a run itself (leaderboard.spec.ts: 10,000 points) finds the store
(Path(tempfile.gettempdir()) / f"mvdp-ui-{os.environ.get('MVDP_UI_PORT', '8888')}.json").write_text(
    json.dumps({"db": c.MvdpApp.db_path, "root": c.ServerApp.root_dir})  # noqa: F821
)
c.MvdpApp.poll_interval = 0.5  # noqa: F821
os.environ["MVDP_UI_AIRFLOW_PASSWORD"] = "not-a-real-secret"
c.MvdpApp.targets = {  # noqa: F821
    "local": {"kind": "local", "parallelism": 2},
    "prod-airflow": {
        "kind": "airflow",
        "api_url": "http://127.0.0.1:9",
        "username": "mvdp",
        "password_env": "MVDP_UI_AIRFLOW_PASSWORD",  # the server takes secrets by env or file
        "dags_location": "/tmp/mvdp-ui-dags",
        "notebooks_location": "/tmp/mvdp-ui-notebooks",
        "outputs_location": "/tmp/mvdp-ui-outputs",
        "request_timeout": 2,
    },
}
