/**
 * Pure logic of the plan editor (no DOM, no JupyterLab): grid editor parsing, plan assembly
 * and its inverse (a saved plan back into the form). The plan's types, limits and
 * strategies come from the plan schema (planRules.ts); values and axes follow the server's
 * rules (values.ts, grid.ts), pinned by tests/contract. Unit tested with jest.
 */
import { IParameter } from './api';
import { strategyFieldHelp } from './fieldHelp';
import { AxisError, axisLength } from './grid';
import {
  Axis,
  checkNumber,
  IPlan,
  isNumberField,
  numberRule,
  planField,
  rangeAxis,
  readNumber,
  StrategyKind,
  strategyKeys,
  strategyOption,
  strategyRequired,
  StrategyOptions
} from './planRules';
import { Parsed, parseValue, readValue } from './values';

export { canonical } from './values';
export type { Parsed } from './values';

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
  const schema = rangeAxis(editor.rangeKind);
  const range: { [key: string]: number | boolean } = {};
  for (const key of schema.required ?? []) {
    const raw = editor[key as 'start' | 'stop' | 'step' | 'num'];
    const node = schema.properties?.[key] ?? {};
    const read = readNumber(node, raw, key) ?? {
      error: `${key} must be ${numberRule(node)}`
    };
    if (read.error !== undefined) {
      return { error: read.error };
    }
    range[key] = read.value;
  }
  if (editor.rangeKind === 'num') {
    range.log = editor.log;
  }
  return { value: range as Axis };
}

/** The strategy as the editor holds it: every option of every kind, kept across kinds. */
export interface IStrategyForm extends StrategyOptions {
  kind: StrategyKind;
}

export interface IPlanForm {
  axes: { [name: string]: IAxisEditor };
  strategy: IStrategyForm;
  parallelism: string;
  timeout: string;
  retries: string;
  retry_delay: string;
  schedule: string;
  queue: string;
  pool: string;
  cpu: string;
  memory: string;
  /** The plan's `notify`, kept as written (its channels name Airflow connections). */
  notify: NonNullable<IPlan['notify']>;
  /** The plan's `files`: paths and globs relative to the notebook (one per row). */
  files: string[];
}

/** The plan's number fields the form edits, with the unit its messages name. */
const NUMBER_FIELDS: [
  'parallelism' | 'timeout' | 'retries' | 'retry_delay',
  string?
][] = [
  ['parallelism'],
  ['timeout', 'seconds'],
  ['retries'],
  ['retry_delay', 'seconds']
];

const label = (key: string) => key.replace(/_/g, ' ');

/**
 * The plan document for the server, plus local errors per field and the grid's size: the
 * number of distinct points the server will run (grid.py `expand`).
 */
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
    const field = `grid.${parameter.name}`;
    const spec = axisSpec(editor, parameter);
    if (spec.error !== undefined) {
      errors[field] = spec.error;
    } else if (spec.value !== null) {
      try {
        size *= axisLength(spec.value, parameter.type);
        grid[parameter.name] = spec.value;
      } catch (e) {
        if (!(e instanceof AxisError)) {
          throw e;
        }
        errors[field] = e.message;
      }
    }
  }
  const { kind } = form.strategy;
  const strategy: { [key: string]: any } = { kind };
  const required = strategyRequired(kind);
  for (const key of strategyKeys(kind)) {
    const value = form.strategy[key];
    const name = strategyFieldHelp(kind, key).label;
    if (value === undefined || value === null || value === '') {
      if (required.includes(key)) {
        errors[`strategy.${key}`] = `give the ${name}`;
      }
      continue;
    }
    const node = strategyOption(kind, key);
    if (isNumberField(node) && typeof value === 'number') {
      const checked = checkNumber(node, value, name);
      if (checked.error !== undefined) {
        errors[`strategy.${key}`] = checked.error;
        continue;
      }
    }
    strategy[key] = value;
  }
  if (!strategy.metric) {
    delete strategy.goal; // as the server's Strategy.to_json: no goal without a metric
  }
  const plan: IPlan = { grid, strategy: strategy as IPlan['strategy'] };
  for (const [key, unit] of NUMBER_FIELDS) {
    const read = readNumber(planField(key), form[key], label(key), unit);
    if (read?.error !== undefined) {
      errors[key] = read.error;
    } else if (read) {
      plan[key] = read.value;
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
  if (form.notify.length) {
    plan.notify = form.notify;
  }
  const files = form.files.map(f => f.trim());
  files.forEach((file, i) => {
    if (file === '') {
      errors[`files.${i}`] = 'give a path or a glob, relative to the notebook';
    } else if (files.indexOf(file) !== i) {
      errors[`files.${i}`] = `${file} is already in the list`;
    }
  });
  if (files.length) {
    plan.files = files;
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
  memory: '',
  notify: [],
  files: []
});

const text = (value: any): string =>
  value === undefined || value === null ? '' : String(value);

/** A value as the values editor shows it: a string as is when it reads back the same. */
function valueText(value: any): string {
  if (typeof value === 'string') {
    const parts = splitValues(value);
    if (
      parts.length === 1 &&
      parts[0] === value &&
      readValue(value) === value
    ) {
      return value;
    }
  }
  return JSON.stringify(value);
}

/** The editor of one saved axis (the inverse of `axisSpec`). */
export function axisEditorOf(axis: Axis): IAxisEditor {
  if (Array.isArray(axis)) {
    return {
      ...emptyAxis(),
      mode: 'values',
      text: axis.map(valueText).join(', ')
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
  return { ...emptyAxis(), mode: 'values', text: valueText(axis) };
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
  form.notify = plan.notify ?? [];
  form.files = [...(plan.files ?? [])];
  return form;
}
