/**
 * Pure logic of the plan editor (no DOM, no JupyterLab): grid editor parsing, plan assembly
 * and its inverse (a saved plan back into the form). Unit tested with jest.
 */
import { Axis, IParameter, IPlan, IStrategy } from './api';

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
  retries: string;
  retry_delay: string;
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
  if (form.retries.trim() !== '') {
    const n = Number(form.retries);
    if (!Number.isInteger(n) || n < 0 || n > 100) {
      errors.retries = 'retries must be a whole number from 0 to 100';
    } else {
      plan.retries = n;
    }
  }
  if (form.retry_delay.trim() !== '') {
    const n = Number(form.retry_delay);
    if (isNaN(n) || n < 0) {
      errors.retry_delay = 'retry delay must be a number of seconds, 0 or more';
    } else {
      plan.retry_delay = n;
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

export const initialForm = (): IPlanForm => ({
  axes: {},
  strategy: { kind: 'grid', goal: 'max' },
  parallelism: '',
  timeout: '',
  retries: '',
  retry_delay: '',
  schedule: '',
  queue: '',
  pool: '',
  cpu: '',
  memory: ''
});

const text = (value: any): string =>
  value === undefined || value === null ? '' : String(value);

/** The editor of one saved axis (the inverse of `axisSpec`). */
export function axisEditorOf(axis: Axis): IAxisEditor {
  if (Array.isArray(axis)) {
    return {
      ...emptyAxis(),
      mode: 'values',
      text: axis
        .map(v => (typeof v === 'string' ? v : JSON.stringify(v)))
        .join(', ')
    };
  }
  if (axis !== null && typeof axis === 'object' && 'start' in axis) {
    const range = axis as any;
    return {
      ...emptyAxis(),
      mode: 'range',
      start: text(range.start),
      stop: text(range.stop),
      step: text(range.step),
      num: text(range.num),
      log: !!range.log,
      rangeKind: 'num' in range ? 'num' : 'step'
    };
  }
  // one fixed value: a one-value list gives the same grid
  return { ...emptyAxis(), mode: 'values', text: JSON.stringify(axis) };
}

/** The form showing a plan saved in the notebook (`metadata.mvdp.plan`). */
export function formFromPlan(plan: IPlan): IPlanForm {
  const form = initialForm();
  for (const [name, axis] of Object.entries(plan.grid ?? {})) {
    form.axes[name] = axisEditorOf(axis);
  }
  form.strategy = { goal: 'max', ...plan.strategy };
  form.parallelism = text(plan.parallelism);
  form.timeout = text(plan.timeout);
  form.retries = text(plan.retries);
  form.retry_delay = text(plan.retry_delay);
  form.schedule = text(plan.schedule);
  form.queue = text(plan.executor?.queue);
  form.pool = text(plan.executor?.pool);
  const requests =
    plan.executor?.executor_config?.pod_override?.spec?.containers?.[0]
      ?.resources?.requests ?? {};
  form.cpu = text(requests.cpu);
  form.memory = text(requests.memory);
  return form;
}

/** JSON with sorted keys, to compare plans regardless of key order. */
export function canonical(value: any): string {
  if (Array.isArray(value)) {
    return `[${value.map(canonical).join(',')}]`;
  }
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map(k => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
