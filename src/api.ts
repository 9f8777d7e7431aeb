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
/** "unknown": the target stayed unreachable past the server's limit (it may still run). */
export type RunState =
  'queued' | 'running' | 'unknown' | 'success' | 'failed' | 'cancelled';

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
}

/** What a target can do (jupyter_mvdp/targets/base.py Capabilities): read, never the kind. */
export interface ITargetCapabilities {
  has_dag: boolean;
  can_cancel: boolean;
  reads_logs: boolean;
  warm_kernels: boolean;
  writes_workspace: boolean;
  runs_in_process: boolean;
}

export interface ITarget {
  name: string;
  kind: string;
  default: boolean;
  reachable: boolean;
  message: string | null;
  settings: { [key: string]: any };
  capabilities: ITargetCapabilities;
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
}

/** One try of a point (several when the plan has retries). */
export interface ITry {
  try: number;
  state: PointState | null;
  error: string | null;
  started: number | null;
  finished: number | null;
}

export interface IRun {
  run_id: string;
  pipeline: string;
  notebook: string;
  target: string;
  state: RunState;
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
  points: IPoint[];
  best: Pick<IPoint, 'id' | 'parameters' | 'metrics' | 'output'> | null;
}

/** One event of the run-status schema (jupyter_mvdp/event_schemas/run/v1.yaml). */
export interface IRunEvent {
  run_id: string;
  kind: 'run' | 'point' | 'metrics' | 'outcome';
  seq: number;
  user?: string;
  state?: string;
  progress?: string | null;
  message?: string | null;
  unreachable_since?: number | null;
  tries?: ITry[];
  point_id?: string;
  error?: string | null;
  output?: string | null;
  metrics?: { [name: string]: any };
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

export const api = {
  parameters: (path: string) =>
    requestAPI<IParameters>(notebookPath(path, 'parameters')),
  setParametersCell: (path: string, cellIndex: number, tagged: boolean) =>
    requestAPI<IParameters>(
      notebookPath(path, 'parameters-cell'),
      json({ cell_index: cellIndex, tagged })
    ),
  validate: (notebook: string, plan: IPlan) =>
    requestAPI<IValidation>('plans/validate', json({ notebook, plan })),
  targets: () =>
    requestAPI<{ targets: ITarget[] }>('targets').then(r => r.targets),
  metrics: (notebook: string) =>
    requestAPI<{ metrics: string[] }>(
      `metrics?notebook=${encodeURIComponent(notebook)}`
    ).then(r => r.metrics),
  runs: () => requestAPI<{ runs: IRun[] }>('runs').then(r => r.runs),
  run: (runId: string) => requestAPI<IRun>(`runs/${runId}`),
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
