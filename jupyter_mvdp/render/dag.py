"""A plan becomes an idiomatic Airflow 3 DAG file (templates/dag.py.j2).

The DAG uses ``airflow.sdk``, the stock PapermillOperator (the mapped tasks through a
subclass that takes a point's id and stops Airflow from rendering the parameters as
Jinja, apache/airflow#38745) and dynamic task mapping (one mapped task per round, never one
operator per point), so a 10,000-point grid is one small file that parses in milliseconds.
Everything that comes from the user (parameter names and values, paths, metric names)
enters the file as JSON inside a Python string literal made by ``repr(json.dumps(...))``,
or as text in the module docstring (escaped): data, never code. What a run runs is a
*version* (``version_document``: its points and their parameters, the decisions' settings,
its notebooks and files by sha256, its runtime module), which the DAG embeds and a deploy
also keeps in the store by digest: the run's first task picks the one its conf
``{"version": digest}`` names (else the file's) and returns the point ids the papermill task
maps, so a re-deploy in the middle of a run changes nothing it runs, and the serialized DAG
holds no grid; a canary run's conf ``{"baseline": float | null}`` replaces the version's
baseline. The docstring (the DAG's ``doc_md``) ends with the digest of the file, so a target
can tell from the API which file Airflow parsed.

The decisions (reading metrics, best point, early stop, canary) are not re-stated in the DAG:
it imports them from ``runtime_module()``, a copy of runtime.py named by its content that
every deploy ships next to the DAG file.

The task ids and XCom keys are ``core.contract``'s, handed to the template as data.
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
import unicodedata
from functools import cache
from pathlib import Path, PurePosixPath

import jinja2

from .. import __version__
from ..core import contract, notify, optimize, runtime, schedules, strategies
from ..core.grid import point_id
from ..core.models import Plan, Point
from ..exceptions import NoKernel

_TITLES = {
    "grid": "Grid search",
    "early_stop": "Early-stopping (stochastic) grid search",
    "canary": "Canary test",
    "optimize": "Bayesian optimization (Optuna)",
    "ab": "A/B test",
}


@cache
def runtime_module() -> tuple[str, str]:
    """(module name, source) of the shared rules as shipped next to a DAG: the name carries
    a digest of the source, so DAGs rendered by two versions never share one module."""
    source = Path(runtime.__file__).read_text(encoding="utf-8")
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"mvdp_runtime_{digest}", source


def runtime_files() -> dict[str, bytes]:
    """The files a deploy puts next to the DAG file: ``{file name: content}``."""
    name, source = runtime_module()
    return {f"{name}.py": source.encode()}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("jupyter_mvdp.render", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python source, not HTML; user data only enters through _literal
    )
    return env.get_template("dag.py.j2")


def _literal(data) -> str:
    """A Python string literal holding ``data`` as JSON: safe whatever the data contains."""
    return repr(json.dumps(data, ensure_ascii=False, sort_keys=True))


def _docstring(text: str) -> str:
    """``text`` as a readable triple-quoted literal: quotes, backslashes and control
    characters escaped, so no text (a notebook named ``x\"\"\".ipynb``...) can end it: a
    quote is escaped when a quote follows it or it is the last character."""
    out = []
    for i, ch in enumerate(text):
        if ch == "\\" or (ch == '"' and text[i + 1 : i + 2] in ('"', "")):
            out.append("\\" + ch)  # a quote followed by a quote, or last: escaped
        elif ch != "\n" and (unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp")):
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    return '"""' + "".join(out) + '"""'


def render_dag(
    *,
    dag_id: str,
    plan: Plan,
    points: list[Point],
    notebook: str,
    outputs: str,
    kernel: str | None = None,
    champion: float | None = None,
    deploy_notebook: str | None = None,
    description: str = "",
    inputs: dict | None = None,
    store: str | None = None,
    target: str = "",
    space: dict | None = None,
) -> str:
    """The DAG source for ``plan`` over ``points`` (already in the strategy's order).

    ``notebook`` / ``outputs`` / ``deploy_notebook`` are paths or fsspec URLs as the Airflow
    workers see them (the target chose them; no user text names a location); each point's
    executed notebook goes to ``<outputs>/<run id>/<point id>.ipynb``. ``champion`` is the
    canary's baseline when the plan has none. ``inputs`` (``version_document``) name the
    notebooks and files by sha256; with a ``store`` (an fsspec URL the workers read: what
    a deploy wrote there) each run copies them into a working folder of its own, else the
    notebook runs where ``notebook`` is.
    """
    if not kernel:  # papermill would fail every point with "No kernel name found"
        raise NoKernel('A DAG needs a kernel: set "kernel" in the plan or the target')
    strategy = plan.strategy
    size = contract.parallelism_of(plan)
    if strategy.kind == "canary" and not points:  # no grid: the notebook's own defaults
        points = [Point(point_id({}), {})]
    if strategy.kind not in strategies.DEPLOYS:
        deploy_notebook = None
    name = PurePosixPath(notebook.rstrip("/")).name or notebook
    inputs = inputs or here(notebook, deploy_notebook)
    version = version_document(
        dag_id=dag_id,
        plan=plan,
        points=points,
        kernel=kernel,
        champion=champion,
        target=target,
        inputs=inputs,
        space=space,
    )
    settings = {
        "dag_id": dag_id,
        "description": description or f"jupyter-mvdp {strategy.kind} of {name}",
        "notebook": notebook,
        "outputs": outputs.rstrip("/"),
        "kernel": kernel,
        "strategy": strategy.kind,
        **_decisions(plan, champion),
        "deploy_notebook": deploy_notebook,
        "parallelism": size,
        "timeout": plan.timeout,
        "retries": plan.retries or 0,
        "retry_delay": plan.retry_delay or 0,
        "schedule": plan.schedule,
        "schedule_seconds": schedules.duration_seconds(plan.schedule),
        "executor": plan.executor.to_json(),
        "rounds": contract.n_rounds(plan, len(points)),
        "tasks": contract.TASKS,
        "keys": contract.KEYS,
        "events": contract.EVENTS,
        "notify": notify.dag_settings(plan),
        "store": store.rstrip("/") if store else None,
        "version": version_digest(version),
    }
    title = f"{_TITLES[strategy.kind]} of {name}: {len(points)} points"
    doc = "\n\n".join(
        [
            title,
            textwrap.fill(_summary(plan, len(points)), width=92),
            textwrap.fill(_HOW, width=92),
            _DIGEST_LINE.format(_UNSIGNED),
        ]
    )
    source = _template().render(
        kind=strategy.kind,
        docstring=_docstring(doc + "\n"),
        version=__version__,
        runtime=runtime_module()[0],
        kernel=kernel is not None,
        timeout=plan.timeout is not None,
        retries=bool(plan.retries),
        deploy_notebook=deploy_notebook is not None,
        executor=plan.executor,
        notify=bool(plan.notify),
        notify_end=notify.listens_to_end(plan),
        promote=strategy.kind == "ab" and strategy.promote,
        settings_literal=_literal(settings),
        version_literal=_literal(version),
    )
    digest = hashlib.sha256(source.encode()).hexdigest()[: len(_UNSIGNED)]
    return source.replace(_DIGEST_LINE.format(_UNSIGNED), _DIGEST_LINE.format(digest), 1)


def _decisions(plan: Plan, champion: float | None) -> dict:
    """The settings the strategy decides with (runtime.py's arguments), as the DAG embeds
    them and as a run's version keeps them."""
    s = plan.strategy
    return {
        "metric": s.metric,
        "goal": s.goal,
        "target": s.target,
        "budget": s.budget,
        "tolerance": s.tolerance,
        "baseline": s.baseline if s.baseline is not None else champion,
        "fixed_baseline": s.baseline is not None,
    }


def version_document(
    *,
    dag_id: str,
    plan: Plan,
    points: list[Point],
    kernel: str | None,
    champion: float | None,
    target: str,
    inputs: dict,
    space: dict | None = None,
) -> dict:
    """What a run of the pipeline runs, beyond the DAG's structure: its points and their
    parameters, the settings of its decisions, its input notebooks and files (by sha256;
    ``inputs``: ``input`` (the notebook's path relative to the server root), ``notebook``
    and ``deploy_notebook`` (``{"path", "sha256", "input"}``, plus ``location`` where there
    is no store), ``files`` (RunSpec.files)) and the runtime module. The DAG embeds its own;
    a deploy keeps each one in the store by ``version_digest`` while runs use it, and a
    run's first task picks the one its conf names: a re-deploy never changes what a run in
    flight runs."""
    strategy = plan.strategy
    if strategy.kind == "canary" and not points:  # no grid: the notebook's own defaults
        points = [Point(point_id({}), {})]
    module, source = runtime_module()
    return {
        "pipeline": dag_id,
        "target": target,
        "kernel": kernel,
        "input": inputs.get("input"),
        "notebook": inputs.get("notebook"),
        "deploy_notebook": (
            inputs.get("deploy_notebook") if strategy.kind in strategies.DEPLOYS else None
        ),
        "files": list(inputs.get("files") or []),
        # the plan's warm_kernels: false starts each point's kernel from scratch, even on
        # workers that keep warm kernels (kernels/zygote/worker.py)
        "warm_kernels": plan.warm_kernels is not False,
        "runtime": {"module": module, "sha256": hashlib.sha256(source.encode()).hexdigest()},
        "decisions": {
            **_decisions(plan, champion),
            "parallelism": contract.parallelism_of(plan),
            **_optimize_decisions(plan, space),
            **_ab_decisions(plan),
        },
        "points": [p.to_json() for p in points],
    }


def _optimize_decisions(plan: Plan, space: dict | None) -> dict:
    """optimize: the search space and the ask's settings (runtime.optimize_ask's arguments)."""
    if plan.strategy.kind != "optimize":
        return {}
    return {"optimize": {"space": space or {}, **optimize.settings(plan.strategy)}}


def _ab_decisions(plan: Plan) -> dict:
    """ab: runtime.ab_verdict's settings and whether a better B is promoted."""
    s = plan.strategy
    if s.kind != "ab":
        return {}
    return {"ab": {"replicate": s.replicate, "alpha": s.alpha, "promote": s.promote}}


def version_digest(version: dict) -> str:
    """The name of a version: the digest of its canonical JSON."""
    text = json.dumps(version, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def here(notebook: str, deploy_notebook: str | None = None) -> dict:
    """``inputs`` of a DAG that runs its notebooks where they are, named by no digest (each
    point records the sha256 of the bytes it read)."""

    def entry(location: str) -> dict:
        name = PurePosixPath(location).name
        return {"path": name, "sha256": None, "input": location, "location": location}

    found = {"input": notebook, "notebook": entry(notebook)}
    if deploy_notebook:
        found["deploy_notebook"] = entry(deploy_notebook)
    return found


_DIGEST_LINE = "jupyter-mvdp source digest: {}"
_UNSIGNED = "0" * 16
_DIGEST = re.compile(r"jupyter-mvdp source digest: ([0-9a-f]{16})")


def digest_of(text: str | None) -> str | None:
    """The source digest a rendered DAG carries (in its source or its ``doc_md``)."""
    found = _DIGEST.search(text or "")
    return found.group(1) if found else None


_HOW = (
    "Each point is one run of the notebook with papermill (a mapped task; its label is the "
    "point id). The points are data (POINTS, written by jupyter-mvdp): a new grid is a new "
    "file. Each executed notebook is written to <outputs>/<run id>/<point id>"
    ".ipynb; the metrics are what the notebook recorded with jupyter_mvdp.record or "
    "scrapbook.glue."
)


def _summary(plan: Plan, n: int) -> str:
    s = plan.strategy
    goal = "highest" if s.goal == "max" else "lowest"
    size = contract.parallelism_of(plan)
    if s.kind == "grid":
        rank = (
            f", then {contract.TASKS['collect']} ranks them by the {goal} {s.metric}"
            if s.metric
            else ""
        )
        return f"Runs every point, at most {size} at a time{rank}."
    if s.kind == "early_stop":
        return (
            f"Runs the points in a seeded random order (seed {s.seed}), {size} per round, up to "
            f"{contract.n_rounds(plan, n)} rounds; after each round "
            f"{contract.TASKS['check_round'].format('<r>')} stops "
            f"the search (the later rounds are skipped) once {s.metric} reaches {s.target:g} "
            f"({goal} is better) or {strategies.budget(s, n)} points have run."
        )
    if s.kind == "optimize":
        return (
            f"Searches the grid's ranges and lists with Optuna ({s.sampler or 'tpe'}, seed "
            f"{s.seed}): up to {contract.n_rounds(plan, n)} rounds of {size} points, "
            f"{contract.TASKS['ask_round'].format('<r>')} asking each round's points given the "
            f"earlier rounds' results, until {strategies.budget(s, n)} points have run"
            + (f" or {s.metric} reaches {s.target:g}" if s.target is not None else "")
            + f" ({goal} is better). The workers need optuna."
        )
    if s.kind == "ab":
        tasks = contract.TASKS
        promote = (
            f"; when B is better, {tasks['deploy']} promotes it (the champion"
            + (f", and {s.deploy_notebook} runs with B's parameters)" if s.deploy_notebook else ")")
            + f", else {tasks['keep']}"
            if s.promote
            else f", then branches to {tasks['keep']}"
        )
        return (
            f"Runs variant A and variant B {s.replicates} times each ({s.replicate} = 0 .. "
            f"{(s.replicates or 0) - 1}, the same for both, so the results pair up), at most "
            f"{size} at a time; {tasks['decide']} tests the paired differences of {s.metric} "
            f"({goal} is better) at alpha {s.alpha:g} (exact sign-flip permutation test up to "
            f"{runtime.AB_EXACT_MAX} pairs, else the paired t-test){promote}."
        )
    tasks = contract.TASKS
    baseline = f"the baseline {s.baseline:g}" if s.baseline is not None else "the last champion"
    return (
        f"Runs the candidate, takes the point with the {goal} {s.metric} and compares it with "
        f"{baseline} (tolerance {s.tolerance:g}): {tasks['decide']} branches to "
        f"{tasks['deploy']} when it is good enough, else to {tasks['alert']} (the run still "
        "succeeds)."
    )
