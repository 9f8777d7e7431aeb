"""An admin's policy: what a plan may ask of a shared deployment, checked before it runs.

A plan's ``executor`` reaches Airflow's executor as is: a ``pod_override`` is a Kubernetes
pod spec the KubernetesExecutor merges into the worker pod, so a user who can write one can
mount the node's disk, run privileged, take another team's service account, secrets, nodes,
queue or pool. The policy says what is allowed, and ``check`` names every field that breaks
it with its rule. It is an allow-list: a ``pod_override`` may hold only the fields below,
each with its own check, so a field this module does not know is refused, not let through.

- ``queues`` / ``pools``: the ones a plan may name (``None``: any).
- ``connections``: the Airflow connections a plan's ``notify`` may deliver through (``None``:
  any). A connection holds the team's credentials (an SMTP login, a Slack webhook): a user
  who may name any of them can post as the team. By default only the providers' defaults.
- ``executor_config``: may a plan set one at all; if so, only ``pod_override`` with
  containers (``images`` allow-listed; ``resources`` under ``max_cpu`` / ``max_memory`` /
  ``max_resources``; ``env`` and ``envFrom`` from allow-listed ``secrets`` and
  ``config_maps``; ``volumeMounts``; a security context that only restricts), volumes
  (``emptyDir``, ``downwardAPI``, allow-listed ``configMap`` / ``secret`` / ``projected``
  sources and ``persistentVolumeClaim`` (``volume_claims``)), ``nodeSelector`` pairs,
  ``tolerations`` and ``affinity`` from their allow-lists, ``serviceAccountName`` from
  ``service_accounts``, and ``hostNetwork`` / ``hostPID`` / ``hostIPC`` only as ``false``.
- ``max_grid`` (points), ``max_parallelism`` (points at once), ``max_active_runs`` (a
  user's unfinished runs on the target).
- ``schedules``: ``"none"``, ``"presets"`` (``@daily``...) or ``"any"``, and
  ``min_schedule_interval`` (seconds between two runs).

The defaults are strict (no queue, pool or executor_config; the providers' default
connections only; presets at most hourly): a new
installation opens what its team needs. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from . import notify, schedules
from .models import Plan

SCHEDULE_MODES = ("none", "presets", "any")


@dataclass(frozen=True)
class Policy:
    queues: tuple[str, ...] | None = ()
    pools: tuple[str, ...] | None = ()
    connections: tuple[str, ...] | None = tuple(notify.DEFAULT_CONNECTION.values())
    executor_config: bool = False
    images: tuple[str, ...] = ()  # exact, or "repository:*" for any tag or digest of it
    service_accounts: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    config_maps: tuple[str, ...] = ()
    volume_claims: tuple[str, ...] = ()
    node_selectors: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    tolerations: tuple[Mapping, ...] = ()  # each allowed toleration, exactly
    affinities: tuple[Mapping, ...] = ()  # each allowed affinity, exactly
    max_cpu: str | None = "2"
    max_memory: str | None = "8Gi"
    max_resources: Mapping[str, str] = field(default_factory=dict)  # e.g. nvidia.com/gpu
    max_grid: int | None = None  # None: the server's grid_limit
    max_parallelism: int | None = 16
    max_active_runs: int | None = 10
    schedules: str = "presets"
    min_schedule_interval: float = 3600.0

    @classmethod
    def from_json(cls, doc: Mapping, base: Policy | None = None) -> Policy:
        """``base`` with the fields ``doc`` sets; ValueError naming an unknown or bad key."""
        return replace(base or cls(), **_fields(doc))

    def to_json(self) -> dict:
        """For the lab (``GET /mvdp/targets``): what the panel may offer. Names only."""
        doc = asdict(self)
        doc["presets"] = sorted(
            (p for p in schedules.PRESETS if _interval_ok(p, self)),
            key=lambda p: schedules.PRESET_INTERVALS[p],
        )
        return doc


DEFAULT = Policy()


class Policies:
    """The admin's setting (``c.MvdpApp.policy``): the policy's fields for every target, and
    ``"targets": {name: {fields}}`` where one target differs. Checked when it is read."""

    def __init__(self, config: Mapping | None = None):
        config = dict(config or {})
        overrides = config.pop("targets", {})
        if not isinstance(overrides, Mapping):
            raise ValueError("policy.targets must map target names to policy fields")
        self.base = Policy.from_json(config)
        self.targets = {name: Policy.from_json(doc, self.base) for name, doc in overrides.items()}

    def for_target(self, name: str) -> Policy:
        return self.targets.get(name, self.base)


def _fields(doc: Mapping) -> dict:
    if not isinstance(doc, Mapping):
        raise ValueError("a policy is an object of policy fields")
    known = {f.name: f for f in fields(Policy)}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in known:
            raise ValueError(f"unknown policy field {key!r} (known: {', '.join(known)})")
        out[key] = _field(key, value)
    return out


def _names(key: str, value: Any, nullable: bool = False) -> tuple | None:
    if value is None and nullable:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"policy {key} must be a list of names{' or null' if nullable else ''}")
    return tuple(value)


def _field(key: str, value: Any) -> Any:
    if key in ("queues", "pools", "connections"):
        return _names(key, value, nullable=True)
    if key in ("images", "service_accounts", "secrets", "config_maps", "volume_claims"):
        return _names(key, value)
    if key == "executor_config":
        if not isinstance(value, bool):
            raise ValueError("policy executor_config must be true or false")
        return value
    if key == "node_selectors":
        if not isinstance(value, Mapping):
            raise ValueError("policy node_selectors must map a label to its allowed values")
        return {k: _names(f"node_selectors.{k}", v) for k, v in value.items()}
    if key in ("tolerations", "affinities"):
        if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
            raise ValueError(f"policy {key} must be a list of objects")
        return tuple(value)
    if key in ("max_cpu", "max_memory"):
        if value is not None and quantity(value) is None:
            raise ValueError(f"policy {key} must be a Kubernetes quantity (2, 500m, 4Gi) or null")
        return None if value is None else str(value)
    if key == "max_resources":
        if not isinstance(value, Mapping) or any(quantity(v) is None for v in value.values()):
            raise ValueError("policy max_resources must map a resource to a quantity")
        return {k: str(v) for k, v in value.items()}
    if key in ("max_grid", "max_parallelism", "max_active_runs"):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise ValueError(f"policy {key} must be a whole number >= 0 or null")
        return value
    if key == "schedules":
        if value not in SCHEDULE_MODES:
            raise ValueError(f"policy schedules must be one of {', '.join(SCHEDULE_MODES)}")
        return value
    if key == "min_schedule_interval":
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            raise ValueError("policy min_schedule_interval must be seconds >= 0")
        return float(value)
    raise AssertionError(key)


# --- Kubernetes quantities ----------------------------------------------------------------

_QUANTITY = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?")
_SUFFIX = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
    "Ki": Decimal(2**10),
    "Mi": Decimal(2**20),
    "Gi": Decimal(2**30),
    "Ti": Decimal(2**40),
    "Pi": Decimal(2**50),
    "Ei": Decimal(2**60),
}


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity (``500m``, ``2``, ``1.5Gi``, ``1e3``) as a number, or None when
    it is not one (or negative). A JSON number counts as the same quantity."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value)
    match = _QUANTITY.fullmatch(text)
    if not match:
        return None
    number, exponent, suffix = match.groups()
    try:
        amount = Decimal(number) * (Decimal(10) ** int(exponent[1:]) if exponent else 1)
    except (InvalidOperation, ValueError, OverflowError):
        return None
    return amount * _SUFFIX[suffix] if suffix else amount


# --- the check ----------------------------------------------------------------------------


def check(
    plan: Plan,
    policy: Policy,
    user: str | None = None,
    *,
    size: int | None = None,
    active_runs: int | None = None,
    default_parallelism: int | None = None,
) -> list[dict]:
    """Every way ``plan`` breaks ``policy``: ``[{"field", "message", "rule"}]``, empty when
    it keeps it. ``size``: the plan's points (grid.check); ``active_runs``: ``user``'s
    unfinished runs on the target (checked at deploy only); ``default_parallelism``: what
    the target runs at once when the plan sets none."""
    found = _Found()
    _grid(plan, policy, size, found)
    _parallelism(plan, policy, default_parallelism, found)
    _schedule(plan, policy, found)
    _executor(plan, policy, found)
    _notify(plan, policy, found)
    if active_runs is not None:
        found.errors.extend(filter(None, [too_many_runs(policy, user, active_runs)]))
    return found.errors


def too_many_runs(policy: Policy, user: str | None, active: int) -> dict | None:
    """The error when ``user`` already has ``active`` unfinished runs on the target and the
    policy allows no more, else None."""
    limit = policy.max_active_runs
    if limit is None or active < limit:
        return None
    found = _Found()
    who = f"{user} has" if user else "you have"
    found.add(
        "",
        f"{who} {active} unfinished runs on this target; at most {limit} at once: wait for "
        "one to end or cancel one",
        "max_active_runs",
    )
    return found.errors[0]


class _Found:
    def __init__(self):
        self.errors: list[dict] = []

    def add(self, path: str, message: str, rule: str) -> None:
        self.errors.append(
            {"field": path, "message": f"{message} (policy rule {rule})", "rule": rule}
        )


def _grid(plan: Plan, policy: Policy, size: int | None, found: _Found) -> None:
    if size is not None and policy.max_grid is not None and size > policy.max_grid:
        found.add("grid", f"{size} points; the policy allows {policy.max_grid}", "max_grid")


def _parallelism(plan: Plan, policy: Policy, default: int | None, found: _Found) -> None:
    limit = policy.max_parallelism
    if limit is None:
        return
    if plan.parallelism is not None and plan.parallelism > limit:
        found.add("parallelism", f"{plan.parallelism} at once; at most {limit}", "max_parallelism")
    elif plan.parallelism is None and default is not None and default > limit:
        found.add(
            "parallelism",
            f"unset, the target runs {default} points at once; set at most {limit}",
            "max_parallelism",
        )


def _interval_ok(schedule: str, policy: Policy) -> bool:
    return schedules.min_interval(schedule) >= policy.min_schedule_interval


def _schedule(plan: Plan, policy: Policy, found: _Found) -> None:
    schedule = plan.schedule
    if schedule is None:
        return
    if policy.schedules == "none":
        found.add("schedule", "schedules are not allowed; run on demand", "schedules")
    elif policy.schedules == "presets" and schedule not in schedules.PRESETS:
        allowed = ", ".join(p for p in sorted(schedules.PRESETS) if _interval_ok(p, policy))
        found.add("schedule", f"only presets are allowed ({allowed})", "schedules")
    elif not _interval_ok(schedule, policy):
        every = schedules.min_interval(schedule)
        found.add(
            "schedule",
            f"{schedule!r} runs every {every:g} s at times; the policy's minimum is "
            f"{policy.min_schedule_interval:g} s",
            "min_schedule_interval",
        )


def _executor(plan: Plan, policy: Policy, found: _Found) -> None:
    executor = plan.executor
    for key, allowed in (("queue", policy.queues), ("pool", policy.pools)):
        value = getattr(executor, key)
        if value is not None and allowed is not None and value not in allowed:
            found.add(f"executor.{key}", f"{key} {value!r} is not {_among(allowed)}", f"{key}s")
    config = executor.executor_config
    if not config:
        return
    path = "executor.executor_config"
    if not policy.executor_config:
        found.add(path, "executor_config is not allowed on this target", "executor_config")
        return
    for key, value in config.items():
        if key != "pod_override":
            found.add(
                f"{path}.{key}", f"{key} is not allowed (only pod_override)", "executor_config"
            )
        else:
            _Pod(policy, found).pod(value, f"{path}.pod_override")


def _notify(plan: Plan, policy: Policy, found: _Found) -> None:
    allowed = policy.connections
    if allowed is None:
        return
    for i, channel in enumerate(plan.notify):
        conn = notify.connection_id(channel)
        if conn not in allowed:
            found.add(
                f"notify.{i}.{notify.CONNECTION_FIELD[channel.channel]}",
                f"connection {conn!r} is not {_among(allowed)}",
                "connections",
            )


def _among(allowed: tuple | Mapping) -> str:
    return f"allowed (allowed: {', '.join(allowed) or 'none'})"


# Fields that a pod spec or a container can hold and the rule that refuses each, when the
# allow-list below does not take them: a precise message for what an attacker would try.
_REFUSED = {
    "hostPath": ("pod.host_path", "hostPath volumes expose the node's files"),
    "hostNetwork": ("pod.host_namespaces", "hostNetwork shares the node's network"),
    "hostPID": ("pod.host_namespaces", "hostPID shares the node's processes"),
    "hostIPC": ("pod.host_namespaces", "hostIPC shares the node's IPC"),
    "hostUsers": ("pod.host_namespaces", "hostUsers changes the pod's user namespace"),
    "privileged": ("pod.privileged", "a privileged container is root on the node"),
    "allowPrivilegeEscalation": ("pod.privileged", "privilege escalation must stay off"),
    "nodeName": ("pod.node_selectors", "nodeName pins a node, bypassing the scheduler"),
    "automountServiceAccountToken": (
        "pod.service_accounts",
        "a mounted service account token acts as that account",
    ),
    "initContainers": ("pod.fields", "initContainers are not allowed"),
    "ephemeralContainers": ("pod.fields", "ephemeralContainers are not allowed"),
    "priorityClassName": ("pod.fields", "a priority class can preempt other teams' pods"),
}
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}")
_IMAGE_TAG = r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"


class _Pod:
    """The pod_override's allow-list, one method an object kind (Kubernetes JSON names)."""

    def __init__(self, policy: Policy, found: _Found):
        self.policy = policy
        self.found = found

    def add(self, path: str, message: str, rule: str) -> None:
        self.found.add(path, message, rule)

    def keys(self, obj: Any, path: str, allowed: Mapping[str, Any], other=None) -> None:
        """``obj`` as an object whose every key is in ``allowed`` ({key: check(value, path)});
        each other key is refused, with its own rule where it has one (``other(key)``: the
        (rule, why) of a key this object refuses in its own words)."""
        if not isinstance(obj, Mapping):
            self.add(path, "expected an object", "pod.fields")
            return
        for key, value in obj.items():
            where = f"{path}.{key}"
            check = allowed.get(key)
            if check is not None:
                check(value, where)
                continue
            if key in _REFUSED:
                rule, why = _REFUSED[key]
                why += ": not allowed"
            else:
                rule, why = (other and other(key)) or (
                    "pod.fields",
                    f"{key} is not allowed in a pod_override",
                )
            self.add(where, why, rule)

    def items(self, value: Any, path: str, each) -> None:
        if not isinstance(value, list):
            self.add(path, "expected a list", "pod.fields")
            return
        for i, item in enumerate(value):
            each(item, f"{path}.{i}")

    # --- leaves -----------------------------------------------------------------------

    def text(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            self.add(path, "expected a string", "pod.fields")

    def only(self, *allowed: Any, rule: str = "pod.fields", why: str = ""):
        """A leaf that may hold only these exact values (``False`` for a switch that must
        stay off: a JSON boolean, since Kubernetes reads ``"false"`` as true)."""

        def check(value: Any, path: str) -> None:
            if not any(type(value) is type(a) and value == a for a in allowed):
                shown = " or ".join(map(_json, allowed))
                self.add(path, f"{why + '; ' if why else ''}only {shown} is allowed", rule)

        return check

    def off(self, key: str):
        """A switch that must stay off (``false``), refused by its own rule."""
        rule, why = _REFUSED[key]
        return self.only(False, rule=rule, why=why)

    def uid(self, value: Any, path: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            self.add(path, "must be a user or group id >= 1 (not root)", "pod.privileged")

    def named(self, allowed: tuple[str, ...], rule: str, what: str):
        def check(value: Any, path: str) -> None:
            if not isinstance(value, str) or value not in allowed:
                self.add(path, f"{what} {value!r} is not {_among(allowed)}", rule)

        return check

    def anything(self, value: Any, path: str) -> None:
        """Values that only shape data inside the pod (``items`` of a volume)."""

    # --- objects ----------------------------------------------------------------------

    def pod(self, pod: Any, path: str) -> None:
        self.keys(
            pod,
            path,
            {
                "apiVersion": self.only("v1"),
                "kind": self.only("Pod"),
                "spec": self.spec,
            },
        )

    def spec(self, spec: Any, path: str) -> None:
        accounts = self.named(self.policy.service_accounts, "pod.service_accounts", "account")
        self.keys(
            spec,
            path,
            {
                "containers": lambda v, p: self.items(v, p, self.container),
                "volumes": lambda v, p: self.items(v, p, self.volume),
                "nodeSelector": self.node_selector,
                "tolerations": lambda v, p: self.items(v, p, self.toleration),
                "affinity": self.affinity,
                "serviceAccountName": accounts,
                "serviceAccount": accounts,  # the deprecated alias Kubernetes still reads
                "automountServiceAccountToken": self.off("automountServiceAccountToken"),
                "hostNetwork": self.off("hostNetwork"),
                "hostPID": self.off("hostPID"),
                "hostIPC": self.off("hostIPC"),
                "securityContext": self.pod_security,
            },
        )

    def container(self, container: Any, path: str) -> None:
        self.keys(
            container,
            path,
            {
                "name": self.text,
                "image": self.image,
                "imagePullPolicy": self.only("IfNotPresent", "Always", "Never"),
                "resources": self.resources,
                "env": lambda v, p: self.items(v, p, self.env),
                "envFrom": lambda v, p: self.items(v, p, self.env_from),
                "volumeMounts": lambda v, p: self.items(v, p, self.volume_mount),
                "securityContext": self.container_security,
            },
        )

    def image(self, value: Any, path: str) -> None:
        for allowed in self.policy.images:
            if value == allowed:
                return
            repository = allowed[:-2] if allowed.endswith(":*") else None
            if (
                repository
                and isinstance(value, str)
                and re.fullmatch(re.escape(repository) + _IMAGE_TAG, value)
            ):
                return
        self.add(path, f"image {value!r} is not {_among(self.policy.images)}", "pod.images")

    def resources(self, value: Any, path: str) -> None:
        self.keys(value, path, {"requests": self.amounts, "limits": self.amounts})

    def amounts(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            self.add(path, "expected an object of resource quantities", "pod.fields")
            return
        bounds = {"cpu": self.policy.max_cpu, "memory": self.policy.max_memory}
        bounds.update(self.policy.max_resources)
        rules = {"cpu": "max_cpu", "memory": "max_memory"}
        for name, amount in value.items():
            where = f"{path}.{name}"
            rule = rules.get(name, "max_resources")
            if name not in bounds:
                self.add(where, f"resource {name!r} is not allowed", rule)
                continue
            parsed = quantity(amount)
            if parsed is None:
                self.add(where, f"{amount!r} is not a Kubernetes quantity (2, 500m, 4Gi)", rule)
            elif bounds[name] is not None and parsed > quantity(bounds[name]):
                self.add(where, f"{name} {amount} is over the maximum {bounds[name]}", rule)

    def env(self, value: Any, path: str) -> None:
        self.keys(value, path, {"name": self.text, "value": self.text, "valueFrom": self.source})

    def source(self, value: Any, path: str) -> None:
        self.keys(
            value,
            path,
            {
                "secretKeyRef": lambda v, p: self.ref(v, p, "name", "secret"),
                "configMapKeyRef": lambda v, p: self.ref(v, p, "name", "config_map"),
                "fieldRef": self.anything,  # the pod's own fields (downward API)
                "resourceFieldRef": self.anything,
            },
        )

    def ref(self, value: Any, path: str, key: str, kind: str) -> None:
        """A reference to a secret or config map by name, allow-listed."""
        allowed = self.policy.secrets if kind == "secret" else self.policy.config_maps
        what = "secret" if kind == "secret" else "config map"
        check = self.named(allowed, f"pod.{kind}s", what)
        self.keys(
            value,
            path,
            {
                key: check,
                "key": self.text,
                "optional": self.anything,
                "items": self.anything,
                "defaultMode": self.anything,
            },
        )
        if isinstance(value, Mapping) and key not in value:
            check(None, f"{path}.{key}")

    def env_from(self, value: Any, path: str) -> None:
        self.keys(
            value,
            path,
            {
                "prefix": self.text,
                "secretRef": lambda v, p: self.ref(v, p, "name", "secret"),
                "configMapRef": lambda v, p: self.ref(v, p, "name", "config_map"),
            },
        )

    def volume_mount(self, value: Any, path: str) -> None:
        self.keys(
            value,
            path,
            {
                "name": self.text,
                "mountPath": self.text,
                "readOnly": self.anything,
                "subPath": self.text,
            },
        )

    def volume(self, value: Any, path: str) -> None:
        claims = self.named(self.policy.volume_claims, "pod.volume_claims", "claim")
        self.keys(
            value,
            path,
            {
                "name": self.text,
                "emptyDir": self.empty_dir,
                "downwardAPI": lambda v, p: self.keys(
                    v, p, {"items": self.anything, "defaultMode": self.anything}
                ),
                "configMap": lambda v, p: self.ref(v, p, "name", "config_map"),
                "secret": lambda v, p: self.ref(v, p, "secretName", "secret"),
                "projected": self.projected,
                "persistentVolumeClaim": lambda v, p: self.keys(
                    v, p, {"claimName": claims, "readOnly": self.anything}
                ),
            },
            lambda key: ("pod.volumes", f"{key} volumes are not allowed"),
        )

    def empty_dir(self, value: Any, path: str) -> None:
        self.keys(value, path, {"medium": self.only("", "Memory"), "sizeLimit": self.size})

    def size(self, value: Any, path: str) -> None:
        bound = self.policy.max_memory
        parsed = quantity(value)
        if parsed is None:
            self.add(path, f"{value!r} is not a Kubernetes quantity", "max_memory")
        elif bound is not None and parsed > quantity(bound):
            self.add(path, f"{value} is over the maximum {bound}", "max_memory")

    def projected(self, value: Any, path: str) -> None:
        def source(item: Any, where: str) -> None:
            self.keys(
                item,
                where,
                {
                    "secret": lambda v, p: self.ref(v, p, "name", "secret"),
                    "configMap": lambda v, p: self.ref(v, p, "name", "config_map"),
                    "downwardAPI": lambda v, p: self.keys(v, p, {"items": self.anything}),
                },
            )

        self.keys(
            value,
            path,
            {
                "sources": lambda v, p: self.items(v, p, source),
                "defaultMode": self.anything,
            },
        )

    def node_selector(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            self.add(path, "expected an object of node labels", "pod.node_selectors")
            return
        for label, wanted in value.items():
            allowed = self.policy.node_selectors.get(label, ())
            if not isinstance(wanted, str) or wanted not in allowed:
                shown = f"{label}={wanted}"
                self.add(
                    f"{path}.{label}",
                    f"node selector {shown!r} is not {_among(allowed)}",
                    "pod.node_selectors",
                )

    def toleration(self, value: Any, path: str) -> None:
        if value not in self.policy.tolerations:
            self.add(
                path,
                f"toleration {_json(value)} is not one the policy allows",
                "pod.tolerations",
            )

    def affinity(self, value: Any, path: str) -> None:
        if value not in self.policy.affinities:
            self.add(path, "this affinity is not one the policy allows", "pod.affinity")

    def container_security(self, value: Any, path: str) -> None:
        self.keys(
            value,
            path,
            {
                "privileged": self.off("privileged"),
                "allowPrivilegeEscalation": self.off("allowPrivilegeEscalation"),
                "runAsNonRoot": self.root,
                "runAsUser": self.uid,
                "runAsGroup": self.uid,
                "readOnlyRootFilesystem": self.only(True, False),
                "capabilities": lambda v, p: self.keys(
                    v,
                    p,
                    {"drop": self.anything},
                    lambda key: ("pod.privileged", f"capabilities.{key} is not allowed"),
                ),
                "seccompProfile": self.seccomp,
            },
            lambda key: ("pod.privileged", f"securityContext.{key} is not allowed"),
        )

    def pod_security(self, value: Any, path: str) -> None:
        self.keys(
            value,
            path,
            {
                "runAsNonRoot": self.root,
                "runAsUser": self.uid,
                "runAsGroup": self.uid,
                "fsGroup": self.uid,
                "seccompProfile": self.seccomp,
            },
            lambda key: ("pod.privileged", f"securityContext.{key} is not allowed"),
        )

    def seccomp(self, value: Any, path: str) -> None:
        kind = self.only("RuntimeDefault", rule="pod.privileged", why="seccomp must stay on")
        self.keys(value, path, {"type": kind})

    def root(self, value: Any, path: str) -> None:
        self.only(True, rule="pod.privileged", why="runAsNonRoot may only be set to true")(
            value, path
        )


def _json(value: Any) -> str:
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."
