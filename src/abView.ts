/**
 * What the run view shows of an A/B test, from the run's `ab` (core/abtest.py `summary`; the
 * verdict is runtime.py's, never re-decided here): each variant's values, live from the
 * points the view holds, the verdict in words, and the Vega-Lite specs of the two
 * distributions and of the difference with its interval.
 */
import { IAbSummary, IAbVerdict, IPoint } from './api';

export interface IAbRow {
  variant: 'A' | 'B';
  replicate: any;
  value: number;
  point: string;
}

/** A metric value that is a finite number (what runtime.py `metric_value` accepts). */
function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * Each variant's values: the summary's, updated by the points the view already holds (their
 * live metrics as events bring them); a point that has not succeeded has no value.
 */
export function abRows(
  ab: IAbSummary,
  points: IPoint[],
  metric: string | null | undefined
): IAbRow[] {
  const live = new Map(points.map(p => [p.id, p]));
  const rows: IAbRow[] = [];
  for (const side of ['a', 'b'] as const) {
    for (const entry of ab.variants[side].values) {
      const point = live.get(entry.id);
      const value = point
        ? point.state === 'success' && metric
          ? finite(point.metrics[metric])
          : null
        : entry.value;
      if (value !== null) {
        rows.push({
          variant: side === 'a' ? 'A' : 'B',
          replicate: entry.replicate,
          value,
          point: entry.id
        });
      }
    }
  }
  return rows;
}

const number = (x: number) => x.toPrecision(4).replace(/\.?0+$/, '');
const signed = (x: number) => (x >= 0 ? '+' : '') + number(x);

/** The verdict in words: the headline and the figures behind it. */
export function verdictWords(verdict: IAbVerdict): {
  headline: string;
  detail: string;
} {
  const headline = {
    'B better': 'B is better than A',
    'A better': 'A is better than B',
    'no significant difference': 'No significant difference between A and B',
    inconclusive: 'Inconclusive: too few complete pairs'
  }[verdict.verdict];
  const parts: string[] = [];
  if (verdict.difference !== null) {
    const level = `${Math.round((1 - verdict.alpha) * 100)}%`;
    parts.push(
      `B − A = ${signed(verdict.difference)}` +
        (verdict.ci
          ? ` (${level} CI ${signed(verdict.ci[0])} … ${signed(verdict.ci[1])})`
          : '')
    );
  }
  if (verdict.p_value !== null) {
    parts.push(
      `p = ${verdict.p_value.toPrecision(3)} at alpha ${verdict.alpha}`
    );
  }
  parts.push(`${verdict.pairs} pair${verdict.pairs === 1 ? '' : 's'}`);
  if (verdict.dropped) {
    parts.push(`${verdict.dropped} left out (a side failed)`);
  }
  if (verdict.method) {
    parts.push(verdict.method);
  }
  return { headline, detail: parts.join(' · ') };
}

/** Both variants' distributions: a box per variant with every run drawn over it. */
export function distributionSpec(rows: IAbRow[], metric: string): any {
  const y = { field: 'variant', type: 'nominal', title: null };
  const x = {
    field: 'value',
    type: 'quantitative',
    title: metric,
    scale: { zero: false }
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `${metric} of variant A and variant B`,
    width: 300,
    height: 90,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'boxplot', extent: 'min-max', opacity: 0.35 },
        encoding: { x, y }
      },
      {
        mark: { type: 'point', filled: true, size: 40, tooltip: true },
        encoding: {
          x,
          y,
          color: { field: 'variant', type: 'nominal', legend: null },
          tooltip: [
            { field: 'variant' },
            { field: 'replicate' },
            { field: 'value', title: metric }
          ]
        }
      }
    ]
  };
}

/** The mean difference B − A with its interval, against zero (no difference). */
export function differenceSpec(verdict: IAbVerdict): any | null {
  if (verdict.difference === null) {
    return null;
  }
  const [lo, hi] = verdict.ci ?? [verdict.difference, verdict.difference];
  const values = [{ label: 'B − A', difference: verdict.difference, lo, hi }];
  const x = { type: 'quantitative', title: 'B − A' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'mean difference B − A with its confidence interval',
    width: 300,
    height: 40,
    data: { values },
    layer: [
      {
        mark: { type: 'rule', strokeDash: [4, 4] },
        encoding: { x: { ...x, datum: 0 } }
      },
      {
        mark: { type: 'rule', strokeWidth: 2 },
        encoding: { x: { ...x, field: 'lo' }, x2: { field: 'hi' } }
      },
      {
        mark: { type: 'point', filled: true, size: 60, tooltip: true },
        encoding: { x: { ...x, field: 'difference' } }
      }
    ]
  };
}
