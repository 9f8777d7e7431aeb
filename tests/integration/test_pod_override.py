"""The plan's Kubernetes options become a pod_override the cncf.kubernetes provider takes:
the rendered DAG is imported in Airflow's DagBag (in the Airflow venv, where the provider is
installed), serialized and deserialized as the dag-processor and scheduler do, and the
KubernetesExecutor's own PodGenerator builds the worker pod from it. No cluster is involved:
what a cluster would run is the pod spec checked here."""

from __future__ import annotations

import json
import subprocess
import textwrap

from jupyter_mvdp.core import strategies
from jupyter_mvdp.core.grid import expand
from jupyter_mvdp.core.models import Plan
from jupyter_mvdp.render.dag import render_dag, runtime_files
from jupyter_mvdp.targets.airflow.dev import ensure_airflow_venv

# What the lab panel sends for "CPU (Kubernetes)" = 2 and "memory (Kubernetes)" = 4Gi
# (src/model.ts buildPlan)
PANEL = {
    "pod_override": {
        "spec": {
            "containers": [
                {"name": "base", "resources": {"requests": {"cpu": "2", "memory": "4Gi"}}}
            ]
        }
    }
}
# A raw executor_config: a V1Pod as Kubernetes JSON (camelCase), limits, image, node selector
RAW = {
    "pod_override": {
        "spec": {
            "containers": [
                {
                    "name": "base",
                    "image": "registry.example/ml-worker:1",
                    "resources": {
                        "requests": {"cpu": "500m"},
                        "limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"},
                    },
                }
            ],
            "nodeSelector": {"pool": "gpu"},
        }
    }
}
CHECK = textwrap.dedent(
    """
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator
    from airflow.serialization.serialized_objects import DagSerialization
    from kubernetes.client import models as k8s

    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    out = {"errors": bag.import_errors, "dags": {}}
    base = k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", image="apache/airflow")]))
    for dag_id, dag in bag.dags.items():
        data = json.loads(json.dumps(DagSerialization.to_dict(dag)))  # as stored in the DB
        task = DagSerialization.from_dict(data).get_task("run_point")
        override = task.executor_config["pod_override"]
        pod = PodGenerator.construct_pod(
            dag_id=dag_id, task_id=task.task_id, pod_id="p", try_number=1, kube_image="apache/airflow",
            date=None, args=["airflow", "tasks", "run"], pod_override_object=override,
            base_worker_pod=base, namespace="default", scheduler_job_id="1", map_index=0,
        )
        container = pod.spec.containers[0]
        out["dags"][dag_id] = {
            "override_type": type(override).__name__,
            "resources": container.resources.to_dict(),
            "image": container.image,
            "node_selector": pod.spec.node_selector,
        }
    print(json.dumps(out))
    """
)


def render(folder, dag_id: str, executor_config: dict) -> None:
    plan = Plan.from_json(
        {
            "grid": {"a": [1, 2]},
            "strategy": {"kind": "grid"},
            "executor": {"executor_config": executor_config},
        }
    )
    source = render_dag(
        dag_id=dag_id,
        plan=plan,
        points=strategies.ordered(plan.strategy, expand(plan.grid)),
        notebook="/nb/x.ipynb",
        outputs="/out",
        kernel="python3",
    )
    (folder / f"{dag_id}.py").write_text(source)


def test_pod_override_reaches_the_worker_pod(tmp_path):
    venv = ensure_airflow_venv()
    folder = tmp_path / "dags"
    folder.mkdir()
    for name, content in runtime_files().items():  # the rules module the DAGs import
        (folder / name).write_bytes(content)
    render(folder, "mvdp_panel", PANEL)
    render(folder, "mvdp_raw", RAW)
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CHECK, str(folder)],
        capture_output=True,
        text=True,
        env={"AIRFLOW_HOME": str(tmp_path / "home"), "PATH": f"{venv / 'bin'}:/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["errors"] == {}
    panel, raw = found["dags"]["mvdp_panel"], found["dags"]["mvdp_raw"]
    assert panel["override_type"] == raw["override_type"] == "V1Pod"
    assert panel["resources"]["requests"] == {"cpu": "2", "memory": "4Gi"}
    assert panel["image"] == "apache/airflow"  # the base pod's, untouched
    assert raw["resources"]["requests"] == {"cpu": "500m"}
    assert raw["resources"]["limits"] == {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}
    assert raw["image"] == "registry.example/ml-worker:1"
    assert raw["node_selector"] == {"pool": "gpu"}
