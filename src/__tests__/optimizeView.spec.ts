import { IOptimizeSummary } from '../api';
import {
  bestWords,
  historyRows,
  historySpec,
  importanceSpec
} from '../optimizeView';

const summary: IOptimizeSummary = {
  space: { x: { type: 'float', low: -5, high: 10, log: false } },
  sampler: 'tpe',
  history: [
    { id: 'opt-0000', index: 0, state: 'success', value: 12.5, best: 12.5 },
    { id: 'opt-0001', index: 1, state: 'failed', value: null, best: 12.5 },
    {
      id: 'opt-0002',
      index: 2,
      state: 'success',
      value: 0.51234,
      best: 0.51234
    }
  ],
  importance: { x: 0.8, y: 0.2 }
};

describe('optimize history', () => {
  it('keeps the server history in order, 1-based', () => {
    const rows = historyRows(summary);
    expect(rows.map(r => r.n)).toEqual([1, 2, 3]);
    expect(rows.map(r => r.best)).toEqual([12.5, 12.5, 0.51234]);
    expect(rows[1]).toMatchObject({ value: null, state: 'failed' });
  });

  it('plots values, the best so far as a step line and failed points apart', () => {
    const spec = historySpec(historyRows(summary), 'value', 'min');
    expect(spec.data.values).toHaveLength(3);
    expect(spec.layer.map((l: any) => l.mark.type)).toEqual([
      'point',
      'line',
      'tick'
    ]);
    expect(spec.layer[1].mark.interpolate).toBe('step-after');
    expect(spec.title.text).toContain('lowest value');
  });

  it('draws the importance highest first and says the best so far', () => {
    const spec = importanceSpec(summary.importance!);
    expect(spec.data.values).toEqual([
      { parameter: 'x', importance: 0.8 },
      { parameter: 'y', importance: 0.2 }
    ]);
    expect(spec.encoding.y.sort).toBe('-x');
    expect(bestWords(summary, 'value', 30)).toBe(
      'best value 0.5123 after 3 of 30 points (tpe)'
    );
    expect(bestWords({ ...summary, history: [] }, 'value', 30)).toBe(
      '0 of 30 points run; no value recorded yet'
    );
  });
});
