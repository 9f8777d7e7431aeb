"""core/policy.py: every forbidden executor shape refused with its rule, the allowed ones
let through, Kubernetes quantities, schedules, and the admin's setting read strictly.

``FORBIDDEN`` is shared with tests/server/test_policy.py, which sends each shape to a real
jupyter_server at validate and at deploy."""

from __future__ import annotations

import pytest

from jupyter_mvdp.core import policy
from jupyter_mvdp.core.models import Plan
from jupyter_mvdp.core.policy import Policies, Policy, check, quantity

#: what a team's admin allows (README "Policy"): the shapes below break it one way each
TEAM = {
    "queues": ["ml"],
    "pools": ["training"],
    "executor_config": True,
    "images": ["registry.example/ml-worker:*", "registry.example/base:1.2"],
    "service_accounts": ["mvdp-worker"],
    "secrets": ["team-a-db"],
    "config_maps": ["team-a-settings"],
    "volume_claims": ["team-a-data"],
    "node_selectors": {"pool": ["ml"]},
    "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}],
    "affinities": [],
    "max_cpu": "4",
    "max_memory": "16Gi",
    "max_grid": 100,
    "max_parallelism": 8,
    "max_active_runs": 3,
    "schedules": "any",
    "min_schedule_interval": 3600,
}
POD = "executor.executor_config.pod_override"


def pod(spec: dict | None = None, **container) -> dict:
    """A plan's executor with a pod_override: one container ``base`` (+ ``container``
    fields) and the pod ``spec`` fields."""
    base = {"name": "base", **container}
    return {"executor_config": {"pod_override": {"spec": {"containers": [base], **(spec or {})}}}}


def secret_volume(source: dict) -> dict:
    return pod({"volumes": [{"name": "v", **source}]})


#: (name, plan fields, field refused, rule): every shape an attacker tries first
FORBIDDEN = [
    ("hostPath", pod({"volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
     f"{POD}.spec.volumes.0.hostPath", "pod.host_path"),
    ("privileged", pod(securityContext={"privileged": True}),
     f"{POD}.spec.containers.0.securityContext.privileged", "pod.privileged"),
    ("allowPrivilegeEscalation", pod(securityContext={"allowPrivilegeEscalation": True}),
     f"{POD}.spec.containers.0.securityContext.allowPrivilegeEscalation", "pod.privileged"),
    ("hostNetwork", pod({"hostNetwork": True}), f"{POD}.spec.hostNetwork", "pod.host_namespaces"),
    ("hostPID", pod({"hostPID": True}), f"{POD}.spec.hostPID", "pod.host_namespaces"),
    ("hostIPC", pod({"hostIPC": True}), f"{POD}.spec.hostIPC", "pod.host_namespaces"),
    ("serviceAccountName outside list", pod({"serviceAccountName": "cluster-admin"}),
     f"{POD}.spec.serviceAccountName", "pod.service_accounts"),
    ("image outside list", pod(image="evil.example/miner:latest"),
     f"{POD}.spec.containers.0.image", "pod.images"),
    ("secretKeyRef env",
     pod(env=[{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "team-b-db", "key": "pw"}}}]),
     f"{POD}.spec.containers.0.env.0.valueFrom.secretKeyRef.name", "pod.secrets"),
    ("envFrom secret", pod(envFrom=[{"secretRef": {"name": "team-b-db"}}]),
     f"{POD}.spec.containers.0.envFrom.0.secretRef.name", "pod.secrets"),
    ("secret volume", secret_volume({"secret": {"secretName": "team-b-db"}}),
     f"{POD}.spec.volumes.0.secret.secretName", "pod.secrets"),
    ("projected volume with secret",
     secret_volume({"projected": {"sources": [{"secret": {"name": "team-b-db"}}]}}),
     f"{POD}.spec.volumes.0.projected.sources.0.secret.name", "pod.secrets"),
    ("nodeSelector outside list", pod({"nodeSelector": {"pool": "gpu-team-b"}}),
     f"{POD}.spec.nodeSelector.pool", "pod.node_selectors"),
    ("tolerations", pod({"tolerations": [{"operator": "Exists"}]}),
     f"{POD}.spec.tolerations.0", "pod.tolerations"),
    ("affinity", pod({"affinity": {"nodeAffinity": {}}}), f"{POD}.spec.affinity", "pod.affinity"),
    ("queue outside list", {"queue": "team-b"}, "executor.queue", "queues"),
    ("pool outside list", {"pool": "team-b-gpus"}, "executor.pool", "pools"),
    ("CPU over max", pod(resources={"requests": {"cpu": "4500m"}}),
     f"{POD}.spec.containers.0.resources.requests.cpu", "max_cpu"),
    ("memory over max", pod(resources={"limits": {"memory": "17Gi"}}),
     f"{POD}.spec.containers.0.resources.limits.memory", "max_memory"),
    ("grid over max", {"grid": {"x": {"start": 1, "stop": 101, "step": 1}}}, "grid", "max_grid"),
    ("parallelism over max", {"parallelism": 9}, "parallelism", "max_parallelism"),
    ("schedule not allowed", {"schedule": "*/5 * * * *"}, "schedule", "min_schedule_interval"),
]  # fmt: skip
#: more shapes of the same attacks: each must be refused too
MORE = [
    ("capabilities add", pod(securityContext={"capabilities": {"add": ["SYS_ADMIN"]}}),
     "pod.privileged"),
    ("runAsUser 0", pod(securityContext={"runAsUser": 0}), "pod.privileged"),
    ("runAsNonRoot false", pod(securityContext={"runAsNonRoot": False}), "pod.privileged"),
    ("privileged as a string", pod(securityContext={"privileged": "true"}), "pod.privileged"),
    ("seccomp unconfined", pod(securityContext={"seccompProfile": {"type": "Unconfined"}}),
     "pod.privileged"),
    ("pod sysctls", pod({"securityContext": {"sysctls": [{"name": "x", "value": "1"}]}}),
     "pod.privileged"),
    ("hostUsers", pod({"hostUsers": False}), "pod.host_namespaces"),
    ("nodeName", pod({"nodeName": "node-7"}), "pod.node_selectors"),
    ("serviceAccount alias", pod({"serviceAccount": "cluster-admin"}), "pod.service_accounts"),
    ("token automounted", pod({"automountServiceAccountToken": True}), "pod.service_accounts"),
    ("initContainers", pod({"initContainers": [{"name": "x", "image": "busybox"}]}),
     "pod.fields"),
    ("ephemeralContainers", pod({"ephemeralContainers": []}), "pod.fields"),
    ("priorityClassName", pod({"priorityClassName": "system-cluster-critical"}), "pod.fields"),
    ("runtimeClassName", pod({"runtimeClassName": "unsafe"}), "pod.fields"),
    ("snake_case host_network", pod({"host_network": True}), "pod.fields"),
    ("metadata namespace", {"executor_config": {"pod_override": {
        "metadata": {"namespace": "kube-system"}, "spec": {}}}}, "pod.fields"),
    ("pod_template_file", {"executor_config": {"pod_template_file": "/etc/passwd"}},
     "executor_config"),
    ("nfs volume", secret_volume({"nfs": {"server": "x", "path": "/"}}), "pod.volumes"),
    ("csi volume", secret_volume({"csi": {"driver": "x"}}), "pod.volumes"),
    ("projected service account token", secret_volume({"projected": {"sources": [
        {"serviceAccountToken": {"path": "t", "audience": "vault"}}]}}), "pod.fields"),
    ("configMap outside list", secret_volume({"configMap": {"name": "team-b-settings"}}),
     "pod.config_maps"),
    ("claim outside list", secret_volume({"persistentVolumeClaim": {"claimName": "team-b"}}),
     "pod.volume_claims"),
    ("secret without a name", pod(envFrom=[{"secretRef": {}}]), "pod.secrets"),
    ("sidecar image", pod({"containers": [{"name": "base"}, {"name": "s", "image": "x"}]}),
     "pod.images"),
    ("gpu not allowed", pod(resources={"limits": {"nvidia.com/gpu": "1"}}), "max_resources"),
    ("memory in exa", pod(resources={"requests": {"memory": "1E"}}), "max_memory"),
    ("cpu not a quantity", pod(resources={"requests": {"cpu": "lots"}}), "max_cpu"),
    ("memory emptyDir over max", secret_volume(
        {"emptyDir": {"medium": "Memory", "sizeLimit": "64Gi"}}), "max_memory"),
    ("image with another tag", pod(image="registry.example/base:latest"), "pod.images"),
    ("image prefix trick", pod(image="registry.example/ml-worker-evil:1"), "pod.images"),
    ("mountPropagation", pod(volumeMounts=[{"name": "v", "mountPath": "/x",
                                            "mountPropagation": "Bidirectional"}]), "pod.fields"),
    ("every minute", {"schedule": "* * * * *"}, "min_schedule_interval"),
    ("continuous", {"schedule": "@continuous"}, "min_schedule_interval"),
    ("short duration", {"schedule": "PT10M"}, "min_schedule_interval"),
    ("twice an hour", {"schedule": "0,50 9 * * *"}, "min_schedule_interval"),
]  # fmt: skip
ALLOWED = [
    ("the panel's CPU and memory", pod(resources={"requests": {"cpu": "4", "memory": "16Gi"}})),
    ("an allowed image, any tag", pod(image="registry.example/ml-worker:2.1")),
    ("an allowed image by digest", pod(image="registry.example/ml-worker@sha256:" + "a" * 64)),
    ("an allowed secret", pod(env=[{"name": "DB", "valueFrom": {"secretKeyRef": {
        "name": "team-a-db", "key": "url"}}}])),
    ("plain env", pod(env=[{"name": "MODE", "value": "fast"}])),
    ("allowed node selector and toleration", pod({"nodeSelector": {"pool": "ml"},
        "tolerations": [{"key": "ml", "operator": "Exists", "effect": "NoSchedule"}]})),
    ("allowed service account", pod({"serviceAccountName": "mvdp-worker"})),
    ("switches left off", pod({"hostNetwork": False, "hostPID": False},
        securityContext={"privileged": False, "allowPrivilegeEscalation": False,
                         "runAsNonRoot": True, "runAsUser": 1000,
                         "capabilities": {"drop": ["ALL"]}})),
    ("scratch and settings volumes", pod({"volumes": [{"name": "s", "emptyDir": {}},
        {"name": "c", "configMap": {"name": "team-a-settings"}}]},
        volumeMounts=[{"name": "s", "mountPath": "/scratch"}])),
    ("queue and pool", {"queue": "ml", "pool": "training"}),
    ("hourly and daily", {"schedule": "0 * * * *"}),
]  # fmt: skip


def plan_doc(fields: dict) -> dict:
    """A plan document with ``fields``: plan keys (grid, parallelism, schedule) or
    executor keys."""
    plan_keys = {"grid", "parallelism", "schedule"}
    doc = {"grid": {}, "strategy": {"kind": "grid"}}
    doc.update({k: v for k, v in fields.items() if k in plan_keys})
    executor = {k: v for k, v in fields.items() if k not in plan_keys}
    if executor:
        doc["executor"] = executor
    return doc


def plan_of(fields: dict) -> Plan:
    return Plan.from_json(plan_doc(fields))


def size_of(fields: dict) -> int:
    axis = fields.get("grid", {}).get("x")
    return len(range(axis["start"], axis["stop"] + 1)) if axis else 1


TEAM_POLICY = Policy.from_json(TEAM)


@pytest.mark.parametrize(
    ("name", "fields", "where", "rule"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN]
)
def test_every_forbidden_shape_is_refused_by_its_rule(name, fields, where, rule):
    errors = check(plan_of(fields), TEAM_POLICY, "ann.lee", size=size_of(fields))
    assert [(e["field"], e["rule"]) for e in errors] == [(where, rule)], errors
    assert f"(policy rule {rule})" in errors[0]["message"]


@pytest.mark.parametrize(("name", "fields", "rule"), MORE, ids=[m[0] for m in MORE])
def test_more_shapes_of_the_same_attacks_are_refused(name, fields, rule):
    errors = check(plan_of(fields), TEAM_POLICY, "ann.lee")
    assert rule in {e["rule"] for e in errors}, (name, errors)


@pytest.mark.parametrize(("name", "fields"), ALLOWED, ids=[a[0] for a in ALLOWED])
def test_what_the_team_allows_passes(name, fields):
    assert check(plan_of(fields), TEAM_POLICY, "ann.lee") == []


def test_the_default_is_strict():
    default = Policy()
    for fields in ({"queue": "ml"}, {"pool": "p"}, pod(), {"schedule": "0 * * * 1-5"}):
        assert check(plan_of(fields), default), fields
    errors = check(plan_of(pod(resources={"requests": {"cpu": "1"}})), default)
    assert [e["rule"] for e in errors] == ["executor_config"]
    assert check(plan_of({"schedule": "@daily"}), default) == []
    assert check(plan_of({}), default) == []
    # unset parallelism is what the target runs at once
    assert check(plan_of({}), default, default_parallelism=32)[0]["rule"] == "max_parallelism"
    assert check(plan_of({}), default, default_parallelism=16) == []


def test_active_runs_per_user():
    rules = Policy(max_active_runs=2)
    assert check(plan_of({}), rules, "ann", active_runs=1) == []
    (error,) = check(plan_of({}), rules, "ann", active_runs=2)
    assert error["rule"] == "max_active_runs" and "ann has 2" in error["message"]
    assert policy.too_many_runs(Policy(max_active_runs=None), "ann", 1000) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", "0.5"), ("2", "2"), ("1.5", "1.5"), ("4Gi", str(4 * 2**30)), ("1k", "1000"),
     ("1e3", "1000"), ("128974848", "128974848"), ("129M", "129000000"), (2, "2"),
     ("1E", str(10**18)), (".5", "0.5")],
)  # fmt: skip
def test_kubernetes_quantities(text, value):
    assert quantity(text) == quantity(value) and str(quantity(text).normalize()) == str(
        quantity(value).normalize()
    )


@pytest.mark.parametrize("text", ["", "-1", "1 Gi", "1GB", "lots", None, True, [1], "1..2"])
def test_not_quantities(text):
    assert quantity(text) is None


def test_schedule_modes():
    presets = Policy(schedules="presets", min_schedule_interval=0)
    assert check(plan_of({"schedule": "@continuous"}), presets) == []
    assert check(plan_of({"schedule": "0 6 * * *"}), presets)[0]["rule"] == "schedules"
    none = Policy(schedules="none")
    assert check(plan_of({"schedule": "@daily"}), none)[0]["rule"] == "schedules"
    daily = Policy(schedules="any", min_schedule_interval=86400)
    assert check(plan_of({"schedule": "0 6 * * 1-5"}), daily) == []
    assert check(plan_of({"schedule": "0 6,18 * * *"}), daily)[0]["rule"] == "min_schedule_interval"
    # an hour apart across midnight, though each day runs twice 23 hours apart
    assert check(
        plan_of({"schedule": "0 0,23 * * *"}), Policy(schedules="any", min_schedule_interval=7200)
    )


def test_the_admins_setting_per_target():
    policies = Policies({"queues": ["ml"], "targets": {"gpu-airflow": {"queues": ["gpu"]}}})
    assert policies.for_target("team-airflow").queues == ("ml",)
    assert policies.for_target("gpu-airflow").queues == ("gpu",)
    assert policies.for_target("gpu-airflow").executor_config is False  # the default's
    assert Policies().for_target("x") == Policy()
    shown = Policy.from_json(TEAM).to_json()
    assert shown["queues"] == ("ml",) and shown["max_cpu"] == "4"
    assert "@continuous" not in shown["presets"] and "@hourly" in shown["presets"]


@pytest.mark.parametrize(
    ("config", "named"),
    [({"queue": ["ml"]}, "unknown policy field 'queue'"), ({"queues": "ml"}, "queues"),
     ({"max_cpu": "lots"}, "max_cpu"), ({"schedules": "some"}, "schedules"),
     ({"executor_config": "yes"}, "executor_config"), ({"max_parallelism": -1}, "max_parallelism"),
     ({"targets": {"x": {"imagess": []}}}, "imagess"), ({"targets": []}, "targets")],
)  # fmt: skip
def test_a_setting_that_does_not_read_is_named(config, named):
    with pytest.raises(ValueError, match=named):
        Policies(config)


def notify_plan(*channels: dict) -> Plan:
    return Plan.from_json(
        {"grid": {"x": [1]}, "strategy": {"kind": "grid"}, "notify": list(channels)}
    )


MAIL = {"channel": "email", "on": ["run_failed"], "to": ["a@example.com"]}
SLACK = {"channel": "slack", "on": ["canary_alert"]}


def test_a_plan_names_only_the_connections_the_policy_allows():
    """A connection holds the team's credentials: by default a plan may deliver through the
    providers' default connections only, and an admin opens others by name."""
    team_slack = {**SLACK, "slack_webhook_conn_id": "team_slack_prod"}
    plan = notify_plan(MAIL, team_slack)
    errors = check(plan, policy.DEFAULT)
    assert [(e["field"], e["rule"]) for e in errors] == [
        ("notify.1.slack_webhook_conn_id", "connections")
    ]
    assert "'team_slack_prod' is not allowed (allowed: smtp_default" in errors[0]["message"]
    assert check(notify_plan(MAIL, SLACK), policy.DEFAULT) == []  # the defaults
    opened = Policy.from_json({"connections": ["team_slack_prod"]})
    assert [e["field"] for e in check(plan, opened)] == ["notify.0.smtp_conn_id"]
    assert check(plan, Policy.from_json({"connections": None})) == []
    with pytest.raises(ValueError, match="connections must be a list of names or null"):
        Policy.from_json({"connections": "team_slack_prod"})
