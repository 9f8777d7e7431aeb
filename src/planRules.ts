/**
 * What the plan schema (jupyter_mvdp/core/plan.schema.json, generated into planSchema.ts)
 * says, read for the editor: the strategies and their keys, the goals, and the bounds of
 * every number. Nothing here repeats a limit: a change of the schema reaches the form.
 */
import { IPlan, PLAN_SCHEMA } from './planSchema';
import { Parsed } from './values';

export type { Axis, Goal, IPlan } from './planSchema';

export type Strategy = IPlan['strategy'];
export type StrategyKind = Strategy['kind'];

type Intersect<U> = (U extends any ? (u: U) => void : never) extends (
  i: infer I
) => void
  ? I
  : never;

type Options<S> = S extends any ? Omit<S, 'kind'> : never;

/** Every option of every strategy: the editor keeps them while the kind changes. */
export type StrategyOptions = Partial<Intersect<Options<Strategy>>>;
export type StrategyKey = keyof StrategyOptions & string;

/** The little of JSON Schema the editor reads. */
export interface ISchemaNode {
  readonly type?: string | readonly string[];
  readonly description?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly enum?: readonly any[];
  readonly const?: any;
  readonly $ref?: string;
  readonly not?: ISchemaNode;
  readonly oneOf?: readonly ISchemaNode[];
  readonly properties?: { readonly [key: string]: ISchemaNode };
  readonly required?: readonly string[];
}

const DEFS: { readonly [name: string]: ISchemaNode } = PLAN_SCHEMA.$defs;

/** A node with its `$ref` followed. */
function resolve(node: ISchemaNode): ISchemaNode {
  const ref = node.$ref;
  return ref ? resolve(DEFS[ref.replace('#/$defs/', '')]) : node;
}

/** The schema of each strategy, by kind, in the schema's order. */
const STRATEGIES = new Map<StrategyKind, ISchemaNode>(
  PLAN_SCHEMA.properties.strategy.oneOf.map(ref => {
    const schema = resolve(ref);
    return [schema.properties!.kind.const as StrategyKind, schema];
  })
);

export const STRATEGY_KINDS: StrategyKind[] = [...STRATEGIES.keys()];

/** The goals a metric can have (`max`, `min`). */
export const GOALS = PLAN_SCHEMA.$defs.goal.enum;

/** The options a strategy of this kind takes, in the schema's order (not `kind`). */
export function strategyKeys(kind: StrategyKind): StrategyKey[] {
  const properties = STRATEGIES.get(kind)?.properties ?? {};
  return Object.keys(properties).filter(k => k !== 'kind') as StrategyKey[];
}

/** The options a strategy of this kind cannot do without (the schema's `required`). */
export function strategyRequired(kind: StrategyKind): StrategyKey[] {
  const required = STRATEGIES.get(kind)?.required ?? [];
  return required.filter(k => k !== 'kind') as StrategyKey[];
}

/** The schema of one option of a strategy, `$ref` followed. */
export function strategyOption(
  kind: StrategyKind,
  key: StrategyKey
): ISchemaNode {
  return resolve(STRATEGIES.get(kind)?.properties?.[key] ?? {});
}

/** The schema of a range axis: `{start, stop, step}` or `{start, stop, num, log}`. */
export function rangeAxis(kind: 'step' | 'num'): ISchemaNode {
  const axis: ISchemaNode = PLAN_SCHEMA.$defs.axis;
  const found = axis.oneOf?.find(a => a.properties?.[kind] !== undefined);
  if (!found) {
    throw new Error(`the plan schema has no {${kind}} range`);
  }
  return found;
}

/** The schema of one top-level plan field (`parallelism`, `timeout`...). */
export function planField(key: keyof IPlan): ISchemaNode {
  return resolve(
    (PLAN_SCHEMA.properties as { [key: string]: ISchemaNode })[key] ?? {}
  );
}

const types = (node: ISchemaNode): readonly string[] =>
  node.type === undefined
    ? []
    : typeof node.type === 'string'
      ? [node.type]
      : node.type;

/** The field takes a number (`number` or `integer`, maybe null). */
export const isNumberField = (node: ISchemaNode): boolean =>
  types(node).some(t => t === 'number' || t === 'integer');

/** What a number must be, for messages: "a whole number from 0 to 100". */
export function numberRule(node: ISchemaNode, unit?: string): string {
  const whole = types(node).includes('integer');
  const what = whole
    ? 'a whole number'
    : unit
      ? `a number of ${unit}`
      : 'a number';
  const { minimum: min, exclusiveMinimum: above } = node;
  const { maximum: max, exclusiveMaximum: below } = node;
  if (min !== undefined && max !== undefined) {
    return `${what} from ${min} to ${max}`;
  }
  const bounds = [
    above !== undefined ? `above ${above}` : undefined,
    below !== undefined ? `below ${below}` : undefined
  ].filter(Boolean);
  const limits = [
    min !== undefined ? `${min} or more` : undefined,
    max !== undefined ? `at most ${max}` : undefined
  ].filter(Boolean);
  return [[what, ...bounds].join(' '), ...limits].join(', ');
}

/** Does `n` keep the schema's bounds and type (integer)? */
export function fitsNumber(node: ISchemaNode, n: number): boolean {
  if (!isFinite(n) || (node.not?.const !== undefined && n === node.not.const)) {
    return false;
  }
  if (!types(node).includes('number') && types(node).includes('integer')) {
    if (!Number.isInteger(n)) {
      return false;
    }
  }
  return (
    (node.minimum === undefined || n >= node.minimum) &&
    (node.maximum === undefined || n <= node.maximum) &&
    (node.exclusiveMinimum === undefined || n > node.exclusiveMinimum) &&
    (node.exclusiveMaximum === undefined || n < node.exclusiveMaximum)
  );
}

/** The value, or the message naming the schema's rule ("retries must be a whole number from 0 to 100"). */
export function checkNumber(
  node: ISchemaNode,
  n: number,
  label: string,
  unit?: string
): Parsed<number> {
  if (fitsNumber(node, n)) {
    return { value: n };
  }
  if (node.not?.const !== undefined && n === node.not.const) {
    return { error: `${label} cannot be ${node.not.const}` };
  }
  return { error: `${label} must be ${numberRule(node, unit)}` };
}

/** A number field of the form's text: undefined when empty, else `checkNumber`. */
export function readNumber(
  node: ISchemaNode,
  raw: string,
  label: string,
  unit?: string
): Parsed<number> | undefined {
  return raw.trim() === ''
    ? undefined
    : checkNumber(node, Number(raw), label, unit);
}
