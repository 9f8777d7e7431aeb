"""A team on one Airflow through the hub service (jupyter_mvdp/hub): a real JupyterHub
starts ``python -m jupyter_mvdp.hub`` from ``c.JupyterHub.services``; the service alone holds
the credentials of a real Airflow 3 (tests/harness); users' servers productionize through the
``hub`` target with their own hub token.

Users whose names differ only in punctuation, case or script (``ann.lee``, ``ann_lee``,
``Ann_Lee``, ``张三``, ``李四``; the hub keeps case, as an LDAP or OAuth authenticator may)
get distinct pipelines (DAG ids on Airflow, notebook and outputs folders) and each sees only
their own runs; a user's notebook finds the credential nowhere it can read; the service
answers 403 to a forged token, a service's token, a token without its scope, another user's
run and another user's namespace; it checks the policy itself whatever a client sends.
"""

from __future__ import annotations

import json
import sys

import pytest
import requests

from jupyter_mvdp.core.naming import pipeline_id
from jupyter_mvdp.targets.airflow.dev import free_port
from tests.deploy.conftest import SHARED_TARGET, Hub
from tests.deploy.hubclient import UserClient, tiny_notebook
from tests.harness.airflow import HarnessAirflow

USERS = ("ann.lee", "ann_lee", "Ann_Lee", "张三", "李四")
PLAN = {
    "grid": {"x": [1, 2]},
    "strategy": {"kind": "grid", "metric": "score", "goal": "max"},
    "parallelism": 2,
}
#: the service's policy: what the panel offers users on its target
SERVICE_POLICY = {"queues": ["default"], "max_parallelism": 4, "max_active_runs": 5}


class TeamHub(Hub):
    """The hub service mode: the service holds the Airflow credential (a file only it is
    told of); the users' servers get the ``hub`` target and no secret at all."""

    def __init__(self, run_dir, airflow: HarnessAirflow, users=USERS):
        super().__init__(run_dir, users)
        self.real_airflow = airflow
        self.service_port = free_port()
        self.service_url = f"http://127.0.0.1:{self.service_port}/services/mvdp/"
        self.service_config = run_dir / "mvdp-service.json"

    def shared_targets(self) -> dict:
        return {
            "local": {"kind": "local", "start_timeout": 300},
            SHARED_TARGET: {"kind": "hub", "url": self.service_url},
        }

    def spawner_environment(self) -> dict:
        return {}  # no credential in the users' servers

    def extra_config(self) -> str:
        settings = {**self.real_airflow.target_settings(), "request_timeout": 60}
        self.service_config.write_text(
            json.dumps(
                {
                    "targets": {SHARED_TARGET: settings},
                    "policy": SERVICE_POLICY,
                    "state_dir": str(self.dir / "mvdp-service"),
                }
            )
        )
        command = [sys.executable, "-m", "jupyter_mvdp.hub", "--config", str(self.service_config)]
        # the README's c.JupyterHub.services snippet, plus a case-keeping authenticator
        return f"""
from jupyterhub.auth import DummyAuthenticator

class CaseKeeping(DummyAuthenticator):
    def normalize_username(self, username):
        return username  # as an LDAP or OAuth authenticator may: Ann_Lee is not ann_lee

c.JupyterHub.authenticator_class = CaseKeeping
c.JupyterHub.services = [
    {{"name": "test-driver", "api_token": s["service_token"]}},
    {{"name": "mvdp", "url": "http://127.0.0.1:{self.service_port}", "command": {command!r}}},
]
c.JupyterHub.load_roles = [
    {{"name": "admin", "services": ["test-driver"]}},
    {{"name": "user", "scopes": ["self", "access:services!service=mvdp"]}},
]
c.Spawner.server_token_scopes = [
    "users:activity!user", "access:servers!server", "access:services!service=mvdp"
]
"""

    def service(self, method: str, path: str, token: str | None, **kwargs) -> requests.Response:
        """A request straight to the service, as a notebook holding ``token`` could send."""
        headers = {"Authorization": f"token {token}"} if token else {}
        return requests.request(
            method, self.service_url + path, headers=headers, timeout=120, **kwargs
        )


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    with HarnessAirflow() as airflow:
        hub = TeamHub(tmp_path_factory.mktemp("teamhub"), airflow)
        try:
            hub.start()
            yield hub
        finally:
            if hub.proc is not None:
                hub.stop()


async def productionize(client: UserClient) -> dict:
    """Parameters, validate and Productionize on the shared target through the service, as
    the panel does; the finished run."""
    await client.put_notebook("same.ipynb", tiny_notebook())
    status, doc = await client.call("GET", "mvdp/targets")
    assert status == 200, doc
    shared = next(t for t in doc["targets"] if t["name"] == SHARED_TARGET)
    assert shared["kind"] == "hub" and shared["reachable"] is True, shared
    assert shared["policy"]["queues"] == ["default"]  # the service's policy
    assert shared["capabilities"]["has_dag"] is True

    body = {"notebook": "same.ipynb", "plan": PLAN, "target": SHARED_TARGET}
    status, checked = await client.call("POST", "mvdp/plans/validate", body)
    assert status == 200 and checked["valid"], checked
    refused = {**body, "plan": {**PLAN, "executor": {"queue": "team-b"}}}
    status, checked = await client.call("POST", "mvdp/plans/validate", refused)
    assert checked["valid"] is False and checked["errors"][0]["rule"] == "queues", checked

    ws = await client.events()
    status, run = await client.call("POST", "mvdp/runs", body)
    assert status == 202, run
    events = await client.wait_run(ws, run["run_id"], timeout=400)
    ws.close()
    assert events[-1]["state"] == "success", events[-1]
    status, done = await client.call("GET", f"mvdp/runs/{run['run_id']}")
    assert status == 200 and done["state"] == "success", done
    assert done["best"]["parameters"] == {"x": 2}
    for point in done["points"]:  # outputs fetched through the service, into the workspace
        status, model = await client.call("GET", f"api/contents/{point['output']}")
        assert status == 200, point
        assert model["content"]["metadata"]["mvdp"]["pipeline"] == done["pipeline"]
    status, dag = await client.call("GET", f"mvdp/runs/{run['run_id']}/dag")
    assert status == 200 and done["pipeline"] in dag["source"]
    point = done["points"][0]["id"]
    status, log = await client.call("GET", f"mvdp/runs/{run['run_id']}/points/{point}/log")
    assert status == 200 and log["log"], log
    return done


@pytest.mark.timeout(1200)
async def test_names_that_differ_only_in_punctuation_case_or_script_get_distinct_pipelines(
    team,
):
    clients = [UserClient(team.url, user, team.server(user)) for user in USERS]
    # one after another: the harness's Airflow keeps its database in SQLite, which answers
    # concurrent triggers with HTTP 500 "Database error" now and then (a production Airflow
    # runs on Postgres or MySQL)
    done = [await productionize(client) for client in clients]

    pipelines = [d["pipeline"] for d in done]
    assert len(set(pipelines)) == len(USERS), pipelines
    for user, doc in zip(USERS, done, strict=True):
        assert doc["pipeline"] == pipeline_id(user, "same.ipynb")
    airflow = team.real_airflow
    token = airflow.token()
    dags = requests.get(
        f"{airflow.url}/api/v2/dags",
        params={"limit": 100},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["dags"]
    assert set(pipelines) <= {d["dag_id"] for d in dags}  # one DAG per user on Airflow
    for doc in done:  # each user's notebook, DAG file and outputs folder of their own
        assert (airflow.dags_folder / f"{doc['pipeline']}.py").exists()
        assert (airflow.outputs_folder / doc["pipeline"] / doc["run_id"]).is_dir()
    # each user's server lists that user's run only
    for client, mine in zip(clients, done, strict=True):
        status, runs = await client.call("GET", "mvdp/runs")
        assert status == 200 and [r["run_id"] for r in runs["runs"]] == [mine["run_id"]]

    # the service answers for a run's owner only: another user's token gets 403 on it
    ann, other = clients[0], clients[1]
    theirs = done[1]["run_id"]
    assert team.service("GET", f"api/runs/{theirs}", other.token).status_code == 200
    for method, path in (
        ("GET", f"api/runs/{theirs}"),
        ("GET", f"api/runs/{theirs}/snapshot"),
        ("GET", f"api/runs/{theirs}/points/{done[1]['points'][0]['id']}/output"),
        ("GET", f"api/runs/{theirs}/points/{done[1]['points'][0]['id']}/log"),
        ("POST", f"api/runs/{theirs}/cancel"),
    ):
        response = team.service(method, path, ann.token, json={} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["error"] == "NotYours"


@pytest.mark.timeout(900)
async def test_the_credential_is_nowhere_a_users_notebook_can_read(team):
    user = USERS[0]
    client = UserClient(team.url, user, team.server(user))
    secret = team.real_airflow.password
    # a run through the service succeeds on the real Airflow with that credential...
    done = await productionize(client)
    assert done["state"] == "success"
    # ...while the user's notebook finds it nowhere: environment, home, the environment of
    # every process of its server (the server, kernels, point workers), the server's config
    report = json.loads(await client.execute(SEARCH.replace("SECRET", repr(secret))))
    assert report["found"] == [], report
    assert report["variables"] > 10 and report["files"] > 3 and report["processes"] >= 2, report
    assert "jupyterhub-singleuser" in report["server"]
    # the lab's answers carry no credential either
    for path in ("mvdp/targets", "mvdp/runs", f"mvdp/runs/{done['run_id']}/dag"):
        status, doc = await client.call("GET", path)
        assert status == 200 and secret not in json.dumps(doc), path
    assert secret not in team.log.read_text(errors="replace")  # nor the hub's or service's log


#: runs in the user's kernel: the credential anywhere the user's processes can read it?
SEARCH = """
import json, os, pathlib
secret = SECRET.encode()
found = []
if any(secret in v.encode() for v in os.environ.values()):
    found.append("os.environ")
children = {}
for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
    try:
        ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        continue
    children.setdefault(ppid, []).append(int(stat.parent.name))
server = os.getppid()
mine, todo = {server}, [server]
while todo:
    for child in children.get(todo.pop(), []):
        if child not in mine:
            mine.add(child)
            todo.append(child)
for pid in sorted(mine):
    for name in ("environ", "cmdline"):
        try:
            if secret in pathlib.Path(f"/proc/{pid}/{name}").read_bytes():
                found.append(f"/proc/{pid}/{name}")
        except OSError:
            pass
files = 0
folders = [pathlib.Path.home()]
folders += [pathlib.Path(p) for p in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
for folder in folders:
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                files += 1
                if secret in path.read_bytes():
                    found.append(str(path))
        except OSError:
            pass
server_cmd = pathlib.Path(f"/proc/{server}/cmdline").read_bytes().replace(b"\\0", b" ").decode()
print(json.dumps({"found": found, "variables": len(os.environ), "files": files,
                  "processes": len(mine), "server": server_cmd}))
"""


@pytest.mark.timeout(600)
async def test_the_service_refuses_tokens_namespaces_and_plans_it_should(team):
    ann = UserClient(team.url, "ann.lee", team.server("ann.lee"))
    bob = UserClient(team.url, "李四", team.server("李四"))
    nb = tiny_notebook()
    body = {"target": SHARED_TARGET, "notebook": "same.ipynb", "content": nb, "plan": PLAN}
    ok = team.service("POST", "api/render", ann.token, json=body)
    assert ok.status_code == 200, ok.text
    assert ok.json()["pipeline"] == pipeline_id("ann.lee", "same.ipynb")

    # no token, a forged one, a service's (not a user: no namespace)
    for token in (None, "0" * 32, "forged-" + ann.token[::-1], team.service_token):
        response = team.service("POST", "api/render", token, json=body)
        assert response.status_code == 403, (token, response.text)
    # a token of Ann's without the service's scope
    scoped = team.api(
        "POST", "/users/ann.lee/tokens", json={"scopes": ["read:users:name!user=ann.lee"]}
    )
    assert scoped.status_code == 201, scoped.text
    response = team.service("POST", "api/render", scoped.json()["token"], json=body)
    assert response.status_code == 403 and "scope" in response.json()["message"]

    # another user's namespace: Ann asks for 李四's pipeline
    theirs = pipeline_id("李四", "same.ipynb")
    for route in ("api/render", "api/runs"):
        extra = {"run_id": "20260101T000000-0123456789abcdef"} if route == "api/runs" else {}
        response = team.service(
            "POST", route, ann.token, json={**body, "pipeline": theirs, **extra}
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "NotYours"
    # with 李四's own token the same request is 李四's namespace
    ok = team.service("POST", "api/render", bob.token, json={**body, "pipeline": theirs})
    assert ok.status_code == 200, ok.text

    # the policy, checked by the service whatever a client sends (no client-side check)
    for executor, rule in (
        ({"executor_config": {"pod_override": {"spec": {"hostNetwork": True}}}}, "executor_config"),
        ({"queue": "team-b"}, "queues"),
    ):
        plan = {**PLAN, "executor": executor}
        response = team.service("POST", "api/render", ann.token, json={**body, "plan": plan})
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "PolicyViolation"
        assert response.json()["errors"][0]["rule"] == rule
    plan = {**PLAN, "parallelism": 5}
    response = team.service("POST", "api/render", ann.token, json={**body, "plan": plan})
    assert response.status_code == 403 and "max_parallelism" in response.text

    # a user's server refuses the same at deploy, with the service's rule
    await ann.put_notebook("same.ipynb", nb)
    status, refused = await ann.call(
        "POST",
        "mvdp/runs",
        {"notebook": "same.ipynb", "plan": {**PLAN, "parallelism": 5}, "target": SHARED_TARGET},
    )
    assert status == 403 and refused["error"] == "PolicyViolation", refused
