import { IAbSummary, IAbVerdict, IPoint } from '../api';
import {
  abRows,
  differenceSpec,
  distributionSpec,
  verdictWords
} from '../abView';

const verdict = (fields: Partial<IAbVerdict> = {}): IAbVerdict => ({
  verdict: 'B better',
  reason: 'B better: …',
  method: 'exact sign-flip permutation test',
  p_value: 0.03125,
  difference: 0.98765,
  ci: [0.5, 1.25],
  pairs: 6,
  dropped: 1,
  mean_a: 0.1,
  mean_b: 1.1,
  alpha: 0.05,
  metric: 'score',
  goal: 'max',
  ...fields
});

const summary: IAbSummary = {
  variants: {
    a: {
      parameters: { effect: 0 },
      values: [
        { id: 'a-1', replicate: 0, state: 'success', value: 0.1 },
        { id: 'a-2', replicate: 1, state: 'failed', value: null }
      ]
    },
    b: {
      parameters: { effect: 1 },
      values: [
        { id: 'b-1', replicate: 0, state: 'success', value: 1.2 },
        { id: 'b-2', replicate: 1, state: 'running', value: null }
      ]
    }
  },
  verdict: null
};

const point = (id: string, state: any, metrics: any): IPoint =>
  ({ id, state, metrics, parameters: {} }) as unknown as IPoint;

describe('abRows', () => {
  it('takes the summary values, updated by the live points', () => {
    const live = [point('b-2', 'success', { score: 1.4 })];
    expect(abRows(summary, live, 'score')).toEqual([
      { variant: 'A', replicate: 0, value: 0.1, point: 'a-1' },
      { variant: 'B', replicate: 0, value: 1.2, point: 'b-1' },
      { variant: 'B', replicate: 1, value: 1.4, point: 'b-2' }
    ]);
  });

  it('drops a live point that failed or recorded no finite number', () => {
    const live = [
      point('a-1', 'failed', { score: 0.1 }),
      point('b-1', 'success', { score: 'NaN' })
    ];
    expect(abRows(summary, live, 'score').map(r => r.point)).toEqual([]);
  });
});

describe('verdictWords', () => {
  it('says the verdict, the difference with its interval and the test', () => {
    const words = verdictWords(verdict());
    expect(words.headline).toBe('B is better than A');
    expect(words.detail).toBe(
      'B − A = +0.9877 (95% CI +0.5 … +1.25) · p = 0.0313 at alpha 0.05 · ' +
        '6 pairs · 1 left out (a side failed) · exact sign-flip permutation test'
    );
  });

  it('says inconclusive without a p-value', () => {
    const words = verdictWords(
      verdict({
        verdict: 'inconclusive',
        p_value: null,
        ci: null,
        method: null,
        pairs: 1,
        dropped: 0
      })
    );
    expect(words.headline).toBe('Inconclusive: too few complete pairs');
    expect(words.detail).toBe('B − A = +0.9877 · 1 pair');
  });
});

describe('specs', () => {
  it('draws a box and the runs per variant', () => {
    const spec = distributionSpec(abRows(summary, [], 'score'), 'score');
    expect(spec.layer.map((l: any) => l.mark.type)).toEqual([
      'boxplot',
      'point'
    ]);
    expect(spec.data.values).toHaveLength(2);
  });

  it('draws the difference with its interval against zero', () => {
    const spec = differenceSpec(verdict());
    expect(spec.data.values).toEqual([
      { label: 'B − A', difference: 0.98765, lo: 0.5, hi: 1.25 }
    ]);
    expect(spec.layer[0].encoding.x.datum).toBe(0);
    expect(differenceSpec(verdict({ difference: null }))).toBeNull();
  });
});
