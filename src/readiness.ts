/**
 * What the panel's action bar says (pure, unit tested): the number of points the plan will
 * run, "invalid" while an axis is, and why Productionize is not available yet, in words
 * that name the fields to fix.
 */
import { strategyFieldHelp } from './fieldHelp';
import { StrategyKey, StrategyKind } from './planRules';

/** "6 points", "1 point", "invalid: fix n_estimators", "12,000 points: above the limit of 10,000". */
export function pointCountText(
  size: number | null,
  limit: number | null,
  errors: { [field: string]: string }
): string {
  const axes = Object.keys(errors)
    .filter(f => f.startsWith('grid.'))
    .map(f => f.slice('grid.'.length));
  if (axes.length || errors.grid) {
    return axes.length
      ? `points: invalid (fix ${axes.join(', ')})`
      : 'points: invalid';
  }
  if (size === null) {
    return '';
  }
  if (limit !== null && size > limit) {
    return `${size.toLocaleString()} points: above the limit of ${limit.toLocaleString()}`;
  }
  return `${size.toLocaleString()} point${size === 1 ? '' : 's'}`;
}

/** A field of the form as the user reads its name: `grid.x` → "x", `strategy.target` → "stop at". */
export function fieldName(field: string, kind: StrategyKind): string {
  if (field.startsWith('grid.')) {
    return field.slice('grid.'.length);
  }
  if (field.startsWith('strategy.')) {
    return strategyFieldHelp(
      kind,
      field.slice('strategy.'.length) as StrategyKey
    ).label;
  }
  const files = /^files\.(\d+)$/.exec(field);
  if (files) {
    return `file ${Number(files[1]) + 1}`;
  }
  return field.replace(/_/g, ' ') || 'the plan';
}

export interface IReadiness {
  /** A notebook with parameters is open. */
  hasNotebook: boolean;
  busy: boolean;
  /** Errors found in the browser, by field. */
  localErrors: { [field: string]: string };
  /** The server's answer: null while it checks. */
  validation: {
    valid: boolean;
    errors: { field: string; message: string }[];
  } | null;
  kind: StrategyKind;
}

/** Why Productionize cannot be pressed now, or null when it can. */
export function whyNotReady(state: IReadiness): string | null {
  if (!state.hasNotebook) {
    return 'Open a notebook with a parameters cell.';
  }
  if (state.busy) {
    return 'Productionizing…';
  }
  const fields = Object.keys(state.localErrors);
  if (fields.length) {
    const names = Array.from(
      new Set(fields.map(f => fieldName(f, state.kind)))
    );
    return `Fix ${names.length === 1 ? 'this field' : 'these fields'}: ${names.join(', ')}.`;
  }
  if (state.validation === null) {
    return 'Checking the plan…';
  }
  if (!state.validation.valid) {
    const first = state.validation.errors[0];
    return first
      ? `${first.field ? `${fieldName(first.field, state.kind)}: ` : ''}${first.message}`
      : 'The server refused the plan.';
  }
  return null;
}
