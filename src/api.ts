/**
 * The typed client of the server extension's REST API (docs/api.md), mirroring
 * jupyter_mvdp/core/models.py; the plan's types come from its schema (planSchema.ts).
 */
import { URLExt } from '@jupyterlab/coreutils';

import { IPlan, Strategy } from './planRules';
import { requestAPI } from './request';

export type { Axis, Goal, IPlan, Strategy, StrategyKind } from './planRules';

export type PointState =
  'queued' | 'running' | 'success' | 'failed' | 'skipped';
/**
 * "unknown": the target stayed unreachable past the server's limit (it may still run).
 * "orphaned": the process hosting the run died; a server on the same store resumes it.
 */
export type RunState =
  | 'queued'
  | 'running'
  | 'unknown'
  | 'orphaned'
  | 'success'
  | 'failed'
  | 'cancelled';

export interface IParameter {
  name: string;
  type: string;
  default: string;
  help: string;
  value: any;
  choices?: any[] | null; // the values of a Literal[...] annotation
}

export interface IParameters {
  path: string;
  cell_index: number | null;
  parameters: IParameter[];
}

export interface IFieldError {
  field: string;
  message: string;
}

export interface IValidation {
  valid: boolean;
  size: number | null;
  limit: number;
  errors: IFieldError[];
  /**
   * What would go wrong on the chosen target although the plan is valid: a file the
   * notebook names that is not shipped (field `files`).
   */
  warnings: IFieldError[];
}

/** What a target can do (jupyter_mvdp/targets/base.py Capabilities): read, never the kind. */
export interface ITargetCapabilities {
  has_dag: boolean;
  can_cancel: boolean;
  reads_logs: boolean;
  warm_kernels: boolean;
  writes_workspace: boolean;
  runs_in_process: boolean;
  /** the points run in a folder holding the notebook and the plan's `files` only */
  ships_files: boolean;
  /** runs started elsewhere (the plan's schedule, Airflow's UI or API) come home */
  lists_runs: boolean;
}

/**
 * What a plan may ask of a target (jupyter_mvdp/core/policy.py `Policy.to_json`): the
 * panel offers only this; the server checks it again at validate and at deploy.
 */
export interface IPolicy {
  queues: string[] | null; // null: any queue
  pools: string[] | null;
  connections: string[] | null; // the notify connections a plan may name
  executor_config: boolean; // CPU / memory (a pod_override) allowed at all
  images: string[];
  service_accounts: string[];
  secrets: string[];
  config_maps: string[];
  volume_claims: string[];
  node_selectors: { [label: string]: string[] };
  max_cpu: string | null;
  max_memory: string | null;
  max_grid: number | null;
  max_parallelism: number | null;
  max_active_runs: number | null;
  schedules: 'none' | 'presets' | 'any';
  min_schedule_interval: number;
  presets: string[]; // the presets the interval allows, most frequent first
}

export interface ITarget {
  name: string;
  kind: string;
  default: boolean;
  reachable: boolean;
  message: string | null;
  settings: { [key: string]: any };
  capabilities: ITargetCapabilities;
  /** absent from servers before the policy */
  policy?: IPolicy;
}

export interface IPoint {
  id: string;
  index: number;
  parameters: { [name: string]: any };
  state: PointState;
  metrics: { [name: string]: any };
  output: string | null;
  error: string | null;
  started: number | null;
  finished: number | null;
  tries: ITry[];
  /**
   * The server's rank by the strategy's metric (jupyter_mvdp/core/runtime.py
   * `leaderboard`): 1 for the best, null when not ranked (failed, skipped, no metric).
   */
  rank?: number | null;
  /** Another ranked point has the same metric value (set by the server). */
  tie?: boolean;
}

/** One try of a point (several when the plan has retries). */
export interface ITry {
  try: number;
  state: PointState | null;
  error: string | null;
  started: number | null;
  finished: number | null;
}

/**
 * Who or what started a run: `mvdp` (productionized from the lab or `jupyter mvdp run`),
 * `schedule` (the plan's), `ui` / `api` / `cli` (someone in Airflow: `user`), `asset`,
 * `backfill`, `operator` (another DAG), `other`.
 */
export interface IStartedBy {
  kind: string;
  user: string | null;
}

/**
 * A run without its points (GET runs: the list's entries; the head of a run's document):
 * jupyter_mvdp/core/document.py `run_summary`.
 */
export interface IRunSummary {
  run_id: string;
  pipeline: string;
  notebook: string;
  target: string;
  state: RunState;
  started_by: IStartedBy;
  progress: string | null;
  strategy: Strategy;
  plan: IPlan;
  outcome: 'deploy' | 'alert' | null;
  reason: string | null;
  message: string | null;
  /** Since when (epoch s) polls of the target fail; null when they succeed. */
  unreachable_since: number | null;
  created: number;
  updated: number;
  finished: number | null;
  counts: { [state in PointState]: number };
  best: Pick<IPoint, 'id' | 'parameters' | 'metrics' | 'output'> | null;
  warnings?: string[];
  /** The notebook's parameters, in its order (the leaderboard's columns). */
  parameters?: string[];
  /** The parameters with more than one value in the run. */
  swept?: string[];
  /** The metrics some point recorded as a number. */
  metric_names?: string[];
  /** An A/B test's variants and verdict (core/abtest.py `summary`); null otherwise. */
  ab?: IAbSummary | null;
  /** An optimize run's space, history and importance (core/optimize.py `summary`). */
  optimize?: IOptimizeSummary | null;
  /** The last event applied (RunsModel). */
  seq?: number;
}

/** One run of an A/B test's variant: value null unless it succeeded with a finite metric. */
export interface IAbValue {
  id: string;
  replicate: any;
  state: PointState;
  value: number | null;
}

/** runtime.py `ab_verdict`: the paired test of B - A. */
export interface IAbVerdict {
  verdict:
    'B better' | 'A better' | 'no significant difference' | 'inconclusive';
  reason: string;
  method: string | null;
  p_value: number | null;
  /** mean of B - A over the pairs */
  difference: number | null;
  /** the 1 - alpha confidence interval of the difference */
  ci: [number, number] | null;
  pairs: number;
  /** pairs left out: a side failed or recorded no finite metric */
  dropped: number;
  mean_a: number | null;
  mean_b: number | null;
  alpha: number;
  metric: string | null;
  goal: 'max' | 'min';
}

/** An A/B test in a run's summary: each variant's parameters and values, the verdict. */
export interface IAbSummary {
  variants: {
    [side in 'a' | 'b']: {
      parameters: { [name: string]: any } | null;
      values: IAbValue[];
    };
  };
  /** null while points are still to run */
  verdict: IAbVerdict | null;
}

/** One point of an optimize run's history, in the order it ran (core/optimize.py). */
export interface IOptimizeStep {
  id: string;
  index: number;
  state: PointState;
  /** the finite metric, or null (failed, or none recorded) */
  value: number | null;
  /** the best value so far */
  best: number | null;
}

/** An optimize run in its summary: the search space, the history, Optuna's importance. */
export interface IOptimizeSummary {
  space: { [name: string]: { type: string; [key: string]: any } };
  sampler: string;
  history: IOptimizeStep[];
  /** by parameter, highest first; null until the run is over with enough points */
  importance: { [name: string]: number } | null;
}

/** How a page of points was cut (core/document.py `page_query`). */
export interface IPage {
  total: number;
  offset: number;
  limit: number;
  /** rank | index | id | state | metric:<name> | param:<name> */
  sort: string;
  order: 'asc' | 'desc';
  /** the states shown; empty: all */
  state: PointState[];
}

/** A page of a run's points (GET runs/<id>/points). */
export interface IPointsPage extends IPage {
  points: IPoint[];
}

/** What a page asks for; the server's defaults for what is left out. */
export interface IPageQuery {
  sort?: string;
  order?: 'asc' | 'desc';
  state?: PointState[];
  offset?: number;
  limit?: number;
}

/**
 * A run as GET runs/<id> sends it: its summary and one page of points (the whole of a
 * normal run: `page.total === points.length`).
 */
export interface IRun extends IRunSummary {
  points: IPoint[];
  page?: IPage;
}

/** A point as a `points` event carries it: its status, no parameters. */
export interface IPointChange {
  id: string;
  state: PointState;
  error?: string | null;
  output?: string | null;
  tries?: ITry[];
  metrics?: { [name: string]: any };
  /** optimize: the parameters its round asked */
  parameters?: { [name: string]: any };
}

/** A pipeline over time (GET pipelines/<id>/history; jupyter_mvdp/core/history.py). */
export interface IHistory {
  pipeline: string;
  deployed: {
    target: string;
    first_deployed: number;
    deployed: number;
    schedule: string | null;
    notebook: string;
  }[];
  champion: IChampion | null;
  /** Every champion, newest first: when it changed. */
  champions: IChampion[];
  /** The runs, newest first, whoever started them. */
  runs: IHistoryRun[];
}

export interface IChampion {
  metric: string;
  value: number;
  run_id: string;
  point_id: string | null;
  at: number;
}

export interface IHistoryRun {
  run_id: string;
  target: string;
  state: RunState;
  outcome: 'deploy' | 'alert' | null;
  reason: string | null;
  message: string | null;
  created: number;
  finished: number | null;
  started_by: IStartedBy;
  strategy: string;
  metric: string | null;
  best: {
    id: string;
    parameters: { [name: string]: any };
    value: number;
  } | null;
  /** this run made a champion */
  crowned: boolean;
}

/** One event of the run-status schema (jupyter_mvdp/event_schemas/run/v2.yaml). */
export interface IRunEvent {
  run_id: string;
  kind: 'run' | 'points' | 'outcome';
  seq: number;
  user?: string;
  state?: string;
  progress?: string | null;
  message?: string | null;
  unreachable_since?: number | null;
  /** kind points: the points that changed in one sync tick */
  points?: IPointChange[];
  /** kind points: the run's points per state after that tick */
  counts?: { [state in PointState]: number };
  outcome?: 'deploy' | 'alert';
  reason?: string | null;
}

const json = (body: any): RequestInit => ({
  method: 'POST',
  body: JSON.stringify(body)
});

function notebookPath(path: string, leaf: string): string {
  return URLExt.join(
    'notebooks',
    ...path.split('/').map(encodeURIComponent),
    leaf
  );
}

/** `?sort=&order=&state=&offset=&limit=` of the given fields. */
export function pageParams(query: IPageQuery): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) {
      params.set(key, Array.isArray(value) ? value.join(',') : String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

export const api = {
  parameters: (path: string) =>
    requestAPI<IParameters>(notebookPath(path, 'parameters')),
  setParametersCell: (path: string, cellIndex: number, tagged: boolean) =>
    requestAPI<IParameters>(
      notebookPath(path, 'parameters-cell'),
      json({ cell_index: cellIndex, tagged })
    ),
  validate: (notebook: string, plan: IPlan, target?: string) =>
    requestAPI<IValidation>(
      'plans/validate',
      json({ notebook, plan, ...(target ? { target } : {}) })
    ),
  targets: () =>
    requestAPI<{ targets: ITarget[] }>('targets').then(r => r.targets),
  metrics: (notebook: string) =>
    requestAPI<{ metrics: string[] }>(
      `metrics?notebook=${encodeURIComponent(notebook)}`
    ).then(r => r.metrics),
  /** The user's runs, and what went wrong with the run store itself (set aside, missing). */
  runs: () => requestAPI<{ runs: IRunSummary[]; warnings: string[] }>('runs'),
  /** The run's summary and its first page of points. */
  run: (runId: string, query: IPageQuery = {}) =>
    requestAPI<IRun>(`runs/${runId}${pageParams(query)}`),
  /** A page of the run's points, sorted and filtered on the server. */
  points: (runId: string, query: IPageQuery) =>
    requestAPI<IPointsPage>(`runs/${runId}/points${pageParams(query)}`),
  history: (pipeline: string) =>
    requestAPI<IHistory>(`pipelines/${encodeURIComponent(pipeline)}/history`),
  productionize: (notebook: string, plan: IPlan, target: string) =>
    requestAPI<IRun>('runs', json({ notebook, plan, target })),
  cancel: (runId: string) =>
    requestAPI<IRun>(`runs/${runId}/cancel`, { method: 'POST' }),
  dag: (runId: string) =>
    requestAPI<{ source: string }>(`runs/${runId}/dag`).then(r => r.source),
  log: (runId: string, pointId: string) =>
    requestAPI<{ log: string }>(`runs/${runId}/points/${pointId}/log`).then(
      r => r.log
    )
};
