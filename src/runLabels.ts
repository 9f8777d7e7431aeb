/**
 * How a run is named where several look alike (tab titles, the runs list): notebook,
 * strategy, start time and a short id; its duration; the badge of a finished run (a
 * canary's outcome, deploy or alert, rather than "success"). Pure, unit tested.
 */
import { PathExt } from '@jupyterlab/coreutils';

import { IRun } from './api';

/** The first 6 hex digits of a run id's random part (`20261206T120000-3fa2…` → `3fa2c1`). */
export function shortRunId(runId: string): string {
  const random = runId.includes('-')
    ? runId.slice(runId.indexOf('-') + 1)
    : runId;
  return random.slice(0, 6);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A start time as the user's clock reads it: "14:05" today, "Dec 6 14:05" otherwise. */
export function startText(
  epochSeconds: number,
  now: Date = new Date()
): string {
  const d = new Date(epochSeconds * 1000);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) {
    return time;
  }
  const month = d.toLocaleString('en', { month: 'short' });
  return `${month} ${d.getDate()} ${time}`;
}

/** A duration in the largest units that matter: "42 s", "3 min 05 s", "2 h 07 min". */
export function durationText(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  }
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

type RunLike = Pick<IRun, 'run_id' | 'notebook' | 'strategy' | 'created'>;

/** A run's tab title: "Run titanic.ipynb · grid · 14:05 · 3fa2c1". */
export function runTitle(run: RunLike): string {
  return [
    `Run ${PathExt.basename(run.notebook)}`,
    run.strategy.kind,
    startText(run.created),
    shortRunId(run.run_id)
  ].join(' · ');
}

/** How long a run took, or has been going (until `now`, epoch seconds). */
export function runDuration(
  run: Pick<IRun, 'created' | 'finished'>,
  now: number = Date.now() / 1000
): string {
  return durationText((run.finished ?? now) - run.created);
}

/** The badge of a run: a finished canary shows its outcome (deploy / alert). */
export function runBadge(run: Pick<IRun, 'state' | 'outcome'>): string {
  return run.state === 'success' && run.outcome ? run.outcome : run.state;
}

/** Why a run's leaderboard ranks nothing, or null when it ranks by a metric. */
export function unrankedReason(run: Pick<IRun, 'strategy'>): string | null {
  return run.strategy.metric
    ? null
    : 'No metric was chosen for this run, so its points are not ranked and none is the best. Choose a metric in the strategy to rank the next run.';
}

/** What the server warns of about a run's metric (recorded by no point, not a number). */
export function runWarnings(run: object): string[] {
  const warnings = (run as { warnings?: unknown }).warnings;
  return Array.isArray(warnings)
    ? warnings.filter((w): w is string => typeof w === 'string')
    : [];
}

/** A point's parameters on one line: `n_estimators=10, max_depth=2`. */
export function parametersText(parameters: { [name: string]: any }): string {
  return Object.entries(parameters)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}

/** The label of an output notebook in Compare: its point id and parameters, or its name. */
export function outputLabel(
  runs: Pick<IRun, 'points'>[],
  path: string
): string {
  for (const run of runs) {
    const point = run.points?.find(p => p.output === path);
    if (point) {
      return `${point.id}: ${parametersText(point.parameters)}`;
    }
  }
  return PathExt.basename(path, '.ipynb');
}
