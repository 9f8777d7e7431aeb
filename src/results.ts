/**
 * Pure logic of a run's views (no DOM, no JupyterLab): event reduction, the leaderboard's
 * rows (the server's ranks, ties marked, folded skipped points), per-column number formats
 * and the plot specs. Unit tested with jest; the ranking rule is pinned to the server's by
 * tests/contract/leaderboard.json.
 */
import { Goal, IPoint, IRun, IRunEvent, IRunSummary, PointState } from './api';

export const POINT_STATES: PointState[] = [
  'queued',
  'running',
  'success',
  'failed',
  'skipped'
];

/**
 * Does the run's document hold every point (a normal run: its first page is the whole)?
 * Then the lab can rank and count what events change; a big run's pages come from the server.
 */
export function hasAllPoints(run: IRun): boolean {
  const page = run.page;
  return (
    !page ||
    (page.offset === 0 &&
      page.state.length === 0 &&
      run.points.length >= page.total)
  );
}

/** How many points the run has, whatever was loaded of them. */
export function pointCount(run: IRunSummary): number {
  return POINT_STATES.reduce((n, s) => n + (run.counts?.[s] ?? 0), 0);
}

/**
 * A run (its summary, or its document with a page of points) with one event applied; events
 * older than the run's last seen seq are ignored. A `points` event changes the loaded points
 * it names and carries the counts; only a run holding every point is ranked again here.
 */
export function applyEvent<R extends IRunSummary & { points?: IPoint[] }>(
  run: R,
  event: IRunEvent
): R {
  if (event.run_id !== run.run_id || (run.seq ?? 0) >= event.seq) {
    return run;
  }
  const next: R = { ...run, seq: event.seq };
  if (event.kind === 'run') {
    next.state = (event.state as any) ?? run.state;
    next.progress = event.progress ?? run.progress;
    // a run event carries the run's message: null clears it (the target answers again)
    next.message = event.message !== undefined ? event.message : run.message;
    next.unreachable_since =
      event.unreachable_since !== undefined
        ? event.unreachable_since
        : run.unreachable_since;
  } else if (event.kind === 'outcome') {
    next.outcome = event.outcome ?? null;
    next.reason = event.reason ?? null;
  } else if (event.kind === 'points') {
    if (event.counts) {
      next.counts = { ...event.counts };
    }
    if (run.points) {
      const changes = new Map((event.points ?? []).map(c => [c.id, c]));
      const points = run.points.map(p => {
        const c = changes.get(p.id);
        return c
          ? {
              ...p,
              state: c.state,
              error: c.error ?? null,
              output: c.output ?? p.output,
              tries: c.tries ?? p.tries,
              metrics: c.metrics ?? p.metrics,
              parameters: c.parameters ?? p.parameters
            }
          : p;
      });
      const whole = hasAllPoints(run as any as IRun);
      // the server ranked the points it sent; until the run is read again, rank as it does
      next.points = whole
        ? rankPoints(points, run.strategy.metric, run.strategy.goal)
        : points;
      if (whole && !event.counts) {
        next.counts = countStates(next.points!);
      }
    }
  }
  return next;
}

/**
 * A retried point's tries, oldest first, one line each ("try 1: failed after 12.3 s:
 * error"): why the point needed another go. None for a point that ran once.
 */
export function triesLines(point: IPoint): string[] {
  const tries = point.tries ?? [];
  if (tries.length < 2) {
    return [];
  }
  return tries.map(t => {
    const took =
      t.started !== null && t.finished !== null
        ? ` after ${(t.finished - t.started).toFixed(1)} s`
        : '';
    return `try ${t.try}: ${t.state ?? 'not started'}${took}${t.error ? `: ${t.error}` : ''}`;
  });
}

export function countStates(points: IPoint[]): IRun['counts'] {
  const counts: any = {};
  for (const state of POINT_STATES) {
    counts[state] = 0;
  }
  for (const p of points) {
    counts[p.state]++;
  }
  return counts;
}

/**
 * The metric of a point that counts: only a point that succeeded is ranked, plotted or
 * best (a notebook can record a metric and then fail), as the server's runtime rules say
 * (`metric_value`: a finite number, not a bool, not text; the server sends a too large
 * integer as text).
 */
function metricOf(point: IPoint, metric: string | undefined): number | null {
  if (point.state !== 'success' || !metric) {
    return null;
  }
  const v = point.metrics?.[metric];
  return typeof v === 'number' && isFinite(v) ? v : null;
}

/**
 * The server's ranking (jupyter_mvdp/core/runtime.py `leaderboard`), for points that
 * changed since the server ranked them: the points that succeeded with the metric, best
 * first, ranked 1, 2, 3... (equal values keep their order); every other point unranked
 * (null). The points keep their order; only `rank` is set.
 */
export function rankPoints(
  points: IPoint[],
  metric: string | undefined,
  goal: Goal = 'max'
): IPoint[] {
  const sign = goal === 'max' ? -1 : 1;
  const scored = points
    .map(point => ({ point, value: metricOf(point, metric) }))
    .filter((s): s is { point: IPoint; value: number } => s.value !== null)
    .sort((a, b) => sign * (a.value - b.value)); // stable: ties keep their order
  const ranks = new Map(scored.map((s, i) => [s.point, i + 1]));
  return points.map(p => ({ ...p, rank: ranks.get(p) ?? null }));
}

/** A run's points with their ranks: the server's, else ranked here as the server does. */
export function rankedPoints(run: IRun): IPoint[] {
  return run.points.every(p => p.rank !== undefined)
    ? run.points
    : rankPoints(run.points, run.strategy.metric, run.strategy.goal);
}

const isRanked = (p: IPoint) => typeof p.rank === 'number';

/** The leaderboard's order: ranked points by rank, then the others in their order. */
export function byRank(points: IPoint[]): IPoint[] {
  return [
    ...points.filter(isRanked).sort((a, b) => a.rank! - b.rank!),
    ...points.filter(p => !isRanked(p))
  ];
}

/** Points sorted by a column (a metric or a parameter), points without a value last. */
export function sortedBy(
  points: IPoint[],
  sortBy: { key: string; descending: boolean }
): IPoint[] {
  const value = (p: IPoint) =>
    sortBy.key in p.metrics ? p.metrics[sortBy.key] : p.parameters[sortBy.key];
  return [...points].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === y) {
      return 0;
    }
    if (x === undefined || x === null) {
      return 1;
    }
    if (y === undefined || y === null) {
      return -1;
    }
    return (x < y ? -1 : 1) * (sortBy.descending ? -1 : 1);
  });
}

/** The parameters of a run's points, in the notebook's order. */
export function parameterNames(run: IRun): string[] {
  return run.parameters ?? Object.keys(run.points[0]?.parameters ?? {});
}

/**
 * The points `point` can be compared with (nbdime): those with an output notebook, best
 * first, each labelled with the parameters that vary in the run.
 */
export function compareChoices(
  run: IRun,
  point: IPoint
): { id: string; output: string; label: string }[] {
  const swept = sweptParameters(run);
  return byRank(rankedPoints(run))
    .filter(p => p.output && p.id !== point.id)
    .map(p => ({
      id: p.id,
      output: p.output!,
      label: [
        p.id,
        ...swept.map(k => `${k}=${JSON.stringify(p.parameters[k])}`)
      ].join(' ')
    }));
}

/** Parameters with more than one value in the run: the axes worth plotting. */
export function sweptParameters(run: IRun): string[] {
  if (run.swept) {
    return run.swept; // the server saw every point
  }
  return parameterNames(run).filter(
    name =>
      new Set(run.points.map(p => JSON.stringify(p.parameters[name]))).size > 1
  );
}

/** Metrics with a number in at least one point, the strategy's metric first. */
export function metricNames(run: IRun): string[] {
  const seen = new Set<string>(run.metric_names ?? []);
  for (const p of run.points) {
    for (const [name, value] of Object.entries(p.metrics ?? {})) {
      if (typeof value === 'number') {
        seen.add(name);
      }
    }
  }
  const metric = run.strategy.metric;
  const names = Array.from(seen).sort();
  return metric && seen.has(metric)
    ? [metric, ...names.filter(n => n !== metric)]
    : names;
}

export interface IRankedRow {
  point: IPoint;
  /** The server's rank: 1 for the best; null when not ranked. */
  rank: number | null;
  /** Another ranked point has the same metric value (ranked after or before it). */
  tie: boolean;
}

/**
 * The leaderboard: rows in the server's order (or sorted by a column) with their ranks,
 * and the skipped points apart, so a view can fold them into one row.
 */
export function rankRows(
  run: IRun,
  sortBy?: { key: string; descending: boolean }
): { rows: IRankedRow[]; skipped: IPoint[] } {
  const metric = run.strategy.metric;
  const points = rankedPoints(run);
  const shown = points.filter(p => p.state !== 'skipped');
  const skipped = points.filter(p => p.state === 'skipped');
  const counts = new Map<number, number>();
  for (const p of shown.filter(isRanked)) {
    const v = metricOf(p, metric);
    if (v !== null) {
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
  }
  const order = sortBy ? sortedBy(shown, sortBy) : byRank(shown);
  const rows = order.map(point => {
    const v = isRanked(point) ? metricOf(point, metric) : null;
    return {
      point,
      rank: point.rank ?? null,
      tie: v !== null && (counts.get(v) ?? 0) > 1
    };
  });
  return { rows, skipped };
}

/**
 * One format for a whole column, so `0.1, 1, 10` read as `0.1, 1.0, 10.0`, not
 * `0.1000, 1, 10`: the fewest decimals (at most 4) that show every value, exponents for
 * very small or large numbers, text as is.
 */
export function columnFormat(values: any[]): (value: any) => string {
  const numbers = values.filter(
    (v): v is number => typeof v === 'number' && isFinite(v)
  );
  if (numbers.length === 0 || numbers.every(Number.isInteger)) {
    return formatValue;
  }
  const largest = Math.max(...numbers.map(Math.abs));
  const smallest = Math.min(...numbers.filter(n => n !== 0).map(Math.abs));
  if (largest >= 1e6 || smallest < 1e-3) {
    return v =>
      typeof v === 'number' && !Number.isInteger(v)
        ? v.toExponential(2)
        : formatValue(v);
  }
  let decimals = 1;
  while (decimals < 4 && numbers.some(n => Number(n.toFixed(decimals)) !== n)) {
    decimals++;
  }
  return v => (typeof v === 'number' ? v.toFixed(decimals) : formatValue(v));
}

/** A log axis when the plan swept the parameter on a log range or values span two decades. */
export function wantsLogScale(run: IRun, parameter: string): boolean {
  const axis: any = run.plan?.grid?.[parameter];
  if (axis && !Array.isArray(axis) && typeof axis === 'object' && axis.log) {
    return true;
  }
  const values = run.points.map(p => p.parameters[parameter]);
  if (!values.every(v => typeof v === 'number' && v > 0)) {
    return false;
  }
  return Math.max(...values) / Math.min(...values) >= 100;
}

/**
 * Whole-number ticks: at least 1 apart on a linear axis; on a log axis the values swept
 * (a log scale's own ticks fall between them: 0.1, 0.5).
 */
function wholeTicks(values: number[], log: boolean): any {
  return log
    ? {
        format: 'd',
        values: Array.from(new Set(values)).sort((a, b) => a - b)
      }
    : { format: 'd', tickMinStep: 1 };
}

/** Room (pixels) around the plotted domain, so a dot at the edge is not cut. */
const EDGE = 10;

/** A Vega-Lite spec: the metric against one parameter, one dot per finished point. */
export function plotSpec(run: IRun, metric: string, parameter: string): any {
  const values = run.points
    .filter(p => metricOf(p, metric) !== null)
    .map(p => ({
      [parameter]: p.parameters[parameter],
      [metric]: p.metrics[metric],
      point: p.id,
      best: run.best?.id === p.id ? 'best' : 'other'
    }));
  const numeric = values.every(v => typeof v[parameter] === 'number');
  const log = numeric && wantsLogScale(run, parameter);
  // a whole-number parameter gets whole-number ticks (no 2.5 trees)
  const whole =
    numeric && run.points.every(p => Number.isInteger(p.parameters[parameter]));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `${metric} by ${parameter}`,
    width: 260,
    height: 180,
    data: { values },
    mark: { type: 'point', filled: true, size: 80, tooltip: true },
    encoding: {
      x: {
        field: parameter,
        type: numeric ? 'quantitative' : 'nominal',
        // padding (pixels): a point at the edge of the domain is drawn whole
        ...(numeric
          ? { scale: { ...(log ? { type: 'log' } : {}), padding: EDGE } }
          : {}),
        ...(whole
          ? {
              axis: wholeTicks(
                values.map(v => v[parameter]),
                log
              )
            }
          : {})
      },
      y: {
        field: metric,
        type: 'quantitative',
        scale: { zero: false, padding: EDGE }
      },
      color: {
        field: 'best',
        type: 'nominal',
        scale: { domain: ['best', 'other'], range: ['#e45756', '#4c78a8'] },
        legend: null
      },
      tooltip: [
        { field: 'point' },
        { field: parameter },
        { field: metric, format: '.4f' }
      ]
    }
  };
}

export function formatValue(value: any): string {
  if (typeof value === 'number' && !Number.isInteger(value)) {
    return value.toPrecision(4);
  }
  if (typeof value === 'string') {
    return value;
  }
  return value === null || value === undefined ? '' : JSON.stringify(value);
}

/** A Vega-Lite heatmap: the metric (mean over repeats) over two swept parameters. */
export function heatmapSpec(
  run: IRun,
  metric: string,
  x: string,
  y: string
): any {
  const cells = new Map<string, { x: any; y: any; sum: number; n: number }>();
  for (const p of run.points) {
    const v = metricOf(p, metric);
    if (v === null) {
      continue;
    }
    const key = JSON.stringify([p.parameters[x], p.parameters[y]]);
    const cell = cells.get(key) ?? {
      x: p.parameters[x],
      y: p.parameters[y],
      sum: 0,
      n: 0
    };
    cell.sum += v;
    cell.n += 1;
    cells.set(key, cell);
  }
  const values = Array.from(cells.values()).map(c => ({
    [x]: formatValue(c.x),
    [y]: formatValue(c.y),
    [metric]: c.sum / c.n
  }));
  const order = (name: string) =>
    Array.from(new Set(run.points.map(p => p.parameters[name])))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map(formatValue);
  const goal = run.strategy.goal ?? 'max';
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `${metric} over ${x} and ${y}`,
    width: 200,
    height: 160,
    data: { values },
    mark: { type: 'rect', tooltip: true },
    encoding: {
      x: { field: x, type: 'ordinal', sort: order(x) },
      y: { field: y, type: 'ordinal', sort: order(y) },
      color: {
        field: metric,
        type: 'quantitative',
        scale: { scheme: 'viridis', reverse: goal === 'min' },
        legend: { format: '.3f' }
      },
      tooltip: [{ field: x }, { field: y }, { field: metric, format: '.4f' }]
    }
  };
}
