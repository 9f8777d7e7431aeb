/**
 * Pure logic of the panel (no DOM, no JupyterLab): grid editor parsing, plan assembly,
 * run state reduction from events, leaderboard and plot specs. Unit tested with jest.
 */
import {
  Axis,
  Goal,
  IParameter,
  IPlan,
  IPoint,
  IRun,
  IRunEvent,
  IStrategy,
  PointState
} from './api';

/** The editor state of one parameter's axis. */
export interface IAxisEditor {
  mode: 'default' | 'values' | 'range';
  text: string; // values mode: comma separated
  start: string;
  stop: string;
  step: string;
  num: string;
  log: boolean;
  rangeKind: 'step' | 'num';
}

export const emptyAxis = (): IAxisEditor => ({
  mode: 'default',
  text: '',
  start: '',
  stop: '',
  step: '',
  num: '',
  log: false,
  rangeKind: 'step'
});

export type Parsed<T> = { value: T; error?: undefined } | { error: string };

/** One typed value from its text, by the parameter's (papermill) type. */
export function parseValue(text: string, type: string): Parsed<any> {
  const t = text.trim();
  const base = type.replace(/^Optional\[(.*)\]$/, '$1');
  if (t === 'None' || t === 'null') {
    return { value: null };
  }
  switch (base) {
    case 'int':
      return /^[-+]?\d+$/.test(t)
        ? { value: parseInt(t, 10) }
        : { error: `${t || '(empty)'} is not an int` };
    case 'float': {
      const n = Number(t);
      return t !== '' && !isNaN(n)
        ? { value: n }
        : { error: `${t || '(empty)'} is not a number` };
    }
    case 'bool':
      if (/^(true|1|yes)$/i.test(t)) {
        return { value: true };
      }
      if (/^(false|0|no)$/i.test(t)) {
        return { value: false };
      }
      return { error: `${t || '(empty)'} is not true or false` };
    case 'str':
      return { value: t.replace(/^(["'])(.*)\1$/, '$2') };
    default: {
      try {
        return { value: JSON.parse(t) };
      } catch {
        return { value: t };
      }
    }
  }
}

/** Split a values list on commas outside quotes and brackets. */
export function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) {
        quote = null;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      current += ch;
    } else if (ch === '[' || ch === '{') {
      depth++;
      current += ch;
    } else if (ch === ']' || ch === '}') {
      depth--;
      current += ch;
    } else if (ch === ',' && depth === 0) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current.trim() !== '') {
    out.push(current);
  }
  return out.map(s => s.trim()).filter(s => s !== '');
}

/** The plan's axis for one parameter, or null to keep the notebook's default. */
export function axisSpec(
  editor: IAxisEditor,
  parameter: IParameter
): Parsed<Axis | null> {
  if (editor.mode === 'default') {
    return { value: null };
  }
  if (editor.mode === 'values') {
    const parts = splitValues(editor.text);
    if (parts.length === 0) {
      return { error: 'give at least one value' };
    }
    const values = [];
    for (const part of parts) {
      const parsed = parseValue(part, parameter.type);
      if (parsed.error !== undefined) {
        return { error: parsed.error };
      }
      values.push(parsed.value);
    }
    return { value: values };
  }
  const numbers: { [key: string]: number } = {};
  const keys =
    editor.rangeKind === 'step'
      ? ['start', 'stop', 'step']
      : ['start', 'stop', 'num'];
  for (const key of keys) {
    const raw = (editor as any)[key] as string;
    const n = Number(raw);
    if (raw.trim() === '' || isNaN(n)) {
      return { error: `${key} must be a number` };
    }
    numbers[key] = n;
  }
  if (editor.rangeKind === 'step') {
    if (numbers.step === 0) {
      return { error: 'step cannot be 0' };
    }
    return {
      value: { start: numbers.start, stop: numbers.stop, step: numbers.step }
    };
  }
  if (!Number.isInteger(numbers.num) || numbers.num < 1) {
    return { error: 'num must be a whole number above 0' };
  }
  return {
    value: {
      start: numbers.start,
      stop: numbers.stop,
      num: numbers.num,
      log: editor.log
    }
  };
}

/** How many values an axis has (mirrors jupyter_mvdp/grid.py). */
export function axisLength(axis: Axis): number {
  if (Array.isArray(axis)) {
    return axis.length;
  }
  if ('num' in axis) {
    return axis.num;
  }
  const span = (axis.stop - axis.start) / axis.step;
  return span < 0 ? 0 : Math.floor(span + 1e-9) + 1;
}

export interface IPlanForm {
  axes: { [name: string]: IAxisEditor };
  strategy: IStrategy;
  parallelism: string;
  timeout: string;
  schedule: string;
  queue: string;
  pool: string;
  cpu: string;
  memory: string;
}

/** The plan document for the server, plus local errors per field. */
export function buildPlan(
  form: IPlanForm,
  parameters: IParameter[]
): { plan: IPlan; errors: { [field: string]: string }; size: number } {
  const grid: { [name: string]: Axis } = {};
  const errors: { [field: string]: string } = {};
  let size = 1;
  for (const parameter of parameters) {
    const editor = form.axes[parameter.name];
    if (!editor) {
      continue;
    }
    const spec = axisSpec(editor, parameter);
    if (spec.error !== undefined) {
      errors[`grid.${parameter.name}`] = spec.error;
    } else if (spec.value !== null) {
      grid[parameter.name] = spec.value;
      size *= axisLength(spec.value);
    }
  }
  const strategy: IStrategy = { kind: form.strategy.kind };
  const keys: { [kind: string]: (keyof IStrategy)[] } = {
    grid: ['metric', 'goal'],
    early_stop: ['metric', 'goal', 'target', 'budget', 'seed'],
    canary: ['metric', 'goal', 'baseline', 'tolerance', 'deploy_notebook']
  };
  for (const key of keys[form.strategy.kind]) {
    const value = form.strategy[key];
    if (value !== undefined && value !== null && value !== '') {
      (strategy as any)[key] = value;
    }
  }
  if (strategy.kind === 'grid' && !strategy.metric) {
    delete strategy.goal;
  }
  const plan: IPlan = { grid, strategy };
  const whole = (field: string, raw: string) => {
    if (raw.trim() === '') {
      return undefined;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      errors[field] = `${field} must be a whole number above 0`;
      return undefined;
    }
    return n;
  };
  const parallelism = whole('parallelism', form.parallelism);
  if (parallelism !== undefined) {
    plan.parallelism = parallelism;
  }
  if (form.timeout.trim() !== '') {
    const n = Number(form.timeout);
    if (isNaN(n) || n <= 0) {
      errors.timeout = 'timeout must be a number of seconds above 0';
    } else {
      plan.timeout = n;
    }
  }
  if (form.schedule.trim() !== '') {
    plan.schedule = form.schedule.trim();
  }
  const executor: IPlan['executor'] = {};
  if (form.queue.trim()) {
    executor.queue = form.queue.trim();
  }
  if (form.pool.trim()) {
    executor.pool = form.pool.trim();
  }
  if (form.cpu.trim() || form.memory.trim()) {
    const requests: { [k: string]: string } = {};
    if (form.cpu.trim()) {
      requests.cpu = form.cpu.trim();
    }
    if (form.memory.trim()) {
      requests.memory = form.memory.trim();
    }
    executor.executor_config = {
      pod_override: {
        spec: { containers: [{ name: 'base', resources: { requests } }] }
      }
    };
  }
  if (Object.keys(executor).length) {
    plan.executor = executor;
  }
  return { plan, errors, size };
}

export const POINT_STATES: PointState[] = [
  'queued',
  'running',
  'success',
  'failed',
  'skipped'
];

/** A run with one event applied; events older than the run's last seen seq are ignored. */
export function applyEvent(
  run: IRun & { seq?: number },
  event: IRunEvent
): IRun & { seq?: number } {
  if (event.run_id !== run.run_id || (run.seq ?? 0) >= event.seq) {
    return run;
  }
  const next: IRun & { seq?: number } = { ...run, seq: event.seq };
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
  } else {
    next.points = run.points.map(p => {
      if (p.id !== event.point_id) {
        return p;
      }
      if (event.kind === 'point') {
        return {
          ...p,
          state: event.state as PointState,
          error: event.error ?? null,
          output: event.output ?? p.output,
          tries: event.tries ?? p.tries
        };
      }
      return { ...p, metrics: event.metrics ?? p.metrics };
    });
  }
  next.counts = countStates(next.points);
  return next;
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

function metricOf(point: IPoint, metric: string): number | null {
  const v = point.metrics?.[metric];
  return typeof v === 'number' && !isNaN(v) ? v : null;
}

/** Points ranked by the metric (best first), points without it last. */
export function leaderboard(
  points: IPoint[],
  metric: string | undefined,
  goal: Goal = 'max',
  sortBy?: { key: string; descending: boolean }
): IPoint[] {
  const rows = [...points];
  if (sortBy) {
    const value = (p: IPoint) =>
      sortBy.key in p.metrics
        ? p.metrics[sortBy.key]
        : p.parameters[sortBy.key];
    return rows.sort((a, b) => {
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
  if (!metric) {
    return rows;
  }
  const sign = goal === 'max' ? -1 : 1;
  return rows.sort((a, b) => {
    const [x, y] = [metricOf(a, metric), metricOf(b, metric)];
    if (x === null && y === null) {
      return a.index - b.index;
    }
    if (x === null) {
      return 1;
    }
    if (y === null) {
      return -1;
    }
    return x === y ? a.index - b.index : sign * (x - y);
  });
}

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
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `${metric} by ${parameter}`,
    width: 260,
    height: 180,
    data: { values },
    mark: { type: 'point', filled: true, size: 80, tooltip: true },
    encoding: {
      x: { field: parameter, type: numeric ? 'quantitative' : 'nominal' },
      y: { field: metric, type: 'quantitative', scale: { zero: false } },
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
