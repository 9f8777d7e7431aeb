/**
 * A grid axis and its values, by the server's rules (jupyter_mvdp/core/grid.py): a list of
 * values, a range `{start, stop, step}` (stop included when a step lands on it),
 * `{start, stop, num, log}` (both ends included), or one fixed value. The points a grid
 * runs are its distinct combinations once each value is converted to the parameter's type
 * (an int parameter takes the nearest int of a range's values), so the grid's size here is
 * the number of points the server will run.
 *
 * tests/contract/grids.json pins this to grid.py (jest and pytest run it). No DOM.
 */
import { Axis } from './planSchema';
import { canonical, fits, typeExpr } from './values';

/** An axis the server would refuse, with grid.py's message. */
export class AxisError extends Error {}

/** Above this many values an axis is counted, not listed (the server's limit is far below). */
const MAX_LISTED = 1_000_000;

type Range =
  | { start: number; stop: number; step: number }
  | { start: number; stop: number; num: number; log?: boolean };

const isRange = (axis: Axis): axis is Range =>
  axis !== null && typeof axis === 'object' && !Array.isArray(axis);

/** How many values an axis holds before conversion (grid.py `axis_length`), in closed form. */
export function axisSize(axis: Axis): number {
  if (Array.isArray(axis)) {
    return axis.length;
  }
  if (!isRange(axis)) {
    return 1;
  }
  const { start, stop } = axis;
  if ('num' in axis) {
    if (axis.log && (start <= 0 || stop <= 0)) {
      throw new AxisError(
        `a log range needs start and stop above 0 (got ${start}, ${stop})`
      );
    }
    return axis.num;
  }
  const { step } = axis;
  if ((stop - start) * step < 0) {
    throw new AxisError(`step ${step} never gets from ${start} to ${stop}`);
  }
  if ([start, stop, step].every(Number.isInteger)) {
    return Math.floor((stop - start) / step) + 1;
  }
  return Math.floor((stop - start) / step + 1e-9) + 1;
}

/** Python's `round(v, 12)`: range values without 0.1 + 0.2 noise. */
const round12 = (v: number) => Number(v.toFixed(12));

/** The values of an axis before conversion (grid.py `axis_values`). */
export function axisValues(axis: Axis): any[] {
  if (Array.isArray(axis)) {
    return [...axis];
  }
  if (!isRange(axis)) {
    return [axis];
  }
  const n = axisSize(axis);
  const { start, stop } = axis;
  const values: number[] = [];
  if ('num' in axis) {
    if (n === 1) {
      values.push(start);
    } else if (axis.log) {
      const [lo, hi] = [Math.log10(start), Math.log10(stop)];
      for (let i = 0; i < n; i++) {
        values.push(10 ** (lo + ((hi - lo) * i) / (n - 1)));
      }
      values[n - 1] = stop;
    } else {
      for (let i = 0; i < n; i++) {
        values.push(start + ((stop - start) * i) / (n - 1));
      }
    }
    return values.map(round12);
  }
  for (let i = 0; i < n; i++) {
    values.push(start + axis.step * i);
  }
  return [start, stop, axis.step].every(Number.isInteger)
    ? values
    : values.map(round12);
}

/**
 * The distinct values an axis gives a parameter of type `type` (grid.py `expand` for one
 * axis): each converted as `coerce` does, duplicates removed. Throws AxisError for a range
 * the server refuses and for a value that does not fit the type.
 */
export function distinctValues(axis: Axis, type: string): any[] {
  const node = typeExpr(type);
  const fromRange = isRange(axis);
  const seen = new Map<string, any>();
  for (const value of axisValues(axis)) {
    const [ok, converted] = fits(node, value, fromRange);
    if (!ok) {
      throw new AxisError(`${JSON.stringify(value)} does not fit ${type}`);
    }
    const key = canonical(converted);
    if (!seen.has(key)) {
      seen.set(key, converted);
    }
  }
  return [...seen.values()];
}

/**
 * How many distinct values an axis gives a parameter of type `type`: the factor of the
 * grid's size in points. An axis too long to list is counted in closed form.
 */
export function axisLength(axis: Axis, type: string): number {
  const size = axisSize(axis);
  return size > MAX_LISTED ? size : distinctValues(axis, type).length;
}
