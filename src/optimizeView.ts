/**
 * What the run view shows of an optimize run, from the run's `optimize` (core/optimize.py
 * `summary`: the history and the best so far are the server's, never recomputed here): the
 * Vega-Lite specs of the history (the metric of each point in the order it ran, failed
 * points marked, the best so far as a step line) and of Optuna's parameter importance.
 */
import { IOptimizeSummary } from './api';

export interface IHistoryRow {
  /** 1-based position in the order the points ran */
  n: number;
  point: string;
  value: number | null;
  best: number | null;
  state: string;
}

/** The history as rows for the plot, in the order the points ran. */
export function historyRows(optimize: IOptimizeSummary): IHistoryRow[] {
  return optimize.history.map(h => ({
    n: h.index + 1,
    point: h.id,
    value: h.value,
    best: h.best,
    state: h.state
  }));
}

/** The metric per point in order (failed points at the foot, as crosses) and the best so far. */
export function historySpec(
  rows: IHistoryRow[],
  metric: string,
  goal: 'max' | 'min'
): any {
  const x = { field: 'n', type: 'quantitative', title: 'point (in order)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `${metric} of each point in the order it ran, and the best so far`,
    width: 320,
    height: 160,
    data: { values: rows },
    layer: [
      {
        transform: [{ filter: 'datum.value !== null' }],
        mark: { type: 'point', filled: true, size: 35, tooltip: true },
        encoding: {
          x,
          y: {
            field: 'value',
            type: 'quantitative',
            title: metric,
            scale: { zero: false }
          },
          tooltip: [{ field: 'point' }, { field: 'n' }, { field: 'value' }]
        }
      },
      {
        transform: [{ filter: 'datum.best !== null' }],
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'best', type: 'quantitative' },
          color: { value: '#e45756' }
        }
      },
      {
        transform: [{ filter: 'datum.value === null' }],
        mark: {
          type: 'tick',
          orient: 'vertical',
          color: '#888',
          tooltip: true
        },
        encoding: {
          x,
          y: { value: { expr: 'height' } },
          tooltip: [{ field: 'point' }, { field: 'state' }]
        }
      }
    ],
    title: {
      text: `best so far (${goal === 'max' ? 'highest' : 'lowest'} ${metric})`,
      fontSize: 11
    }
  };
}

/** Optuna's importance of each parameter, as bars, highest first. */
export function importanceSpec(importance: { [name: string]: number }): any {
  const values = Object.entries(importance).map(([parameter, value]) => ({
    parameter,
    importance: value
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'parameter importance (Optuna, fANOVA)',
    width: 240,
    height: { step: 18 },
    data: { values },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'parameter', type: 'nominal', sort: '-x', title: null },
      x: {
        field: 'importance',
        type: 'quantitative',
        title: 'importance',
        scale: { domain: [0, 1] }
      }
    }
  };
}

/** The best point so far in words, e.g. "best value 0.41 after 12 of 30 points". */
export function bestWords(
  optimize: IOptimizeSummary,
  metric: string,
  budget: number | null | undefined
): string {
  const ran = optimize.history.length;
  const last = ran ? optimize.history[ran - 1].best : null;
  const of = budget ? ` of ${budget}` : '';
  if (last === null) {
    return `${ran}${of} points run; no ${metric} recorded yet`;
  }
  return `best ${metric} ${Number(last.toPrecision(4))} after ${ran}${of} points (${optimize.sampler})`;
}
