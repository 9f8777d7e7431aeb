/** The lab's third pass: field help, readiness, run labels, output notebooks, plot theme. */
import { strategyFieldHelp, unitText } from '../fieldHelp';
import { buildPlan, initialForm } from '../model';
import { outputProvenance } from '../outputs';
import { themedSpec } from '../plotTheme';
import { strategyKeys, STRATEGY_KINDS } from '../planRules';
import { fieldName, pointCountText, whyNotReady } from '../readiness';
import { plotSpec } from '../results';
import {
  durationText,
  outputLabel,
  runBadge,
  runTitle,
  shortRunId,
  unrankedReason
} from '../runLabels';

describe('strategy field help', () => {
  it.each(['early_stop', 'canary'] as const)(
    'every %s field has help, and a unit where it measures something',
    kind => {
      for (const key of strategyKeys(kind)) {
        const help = strategyFieldHelp(kind, key, 'accuracy');
        expect(help.help.length).toBeGreaterThan(10);
      }
      expect(strategyFieldHelp(kind, 'metric').label).toBe('metric');
    }
  );
  it('does not call early stopping\'s target "target" (the Target section)', () => {
    expect(strategyFieldHelp('early_stop', 'target').label).toBe('stop at');
    expect(strategyFieldHelp('early_stop', 'target', 'f1').unit).toBe(
      'f1 units'
    );
    expect(strategyFieldHelp('early_stop', 'budget').unit).toBe('points');
    expect(unitText('points')).toBe('(points)');
    expect(unitText()).toBe('');
  });
  it('labels every kind the schema has', () => {
    for (const kind of STRATEGY_KINDS) {
      for (const key of strategyKeys(kind)) {
        expect(strategyFieldHelp(kind, key).label).not.toBe('');
      }
    }
  });
});

describe('required strategy fields', () => {
  it('names a missing required field with its label', () => {
    const form = initialForm();
    form.strategy = { kind: 'early_stop', goal: 'max' };
    const { errors } = buildPlan(form, []);
    expect(errors['strategy.target']).toBe('give the stop at');
    expect(errors['strategy.metric']).toBe('give the metric');
  });
  it('a grid needs no metric', () => {
    expect(buildPlan(initialForm(), []).errors).toEqual({});
  });
});

describe('action bar', () => {
  it('counts points, and says invalid while an axis is', () => {
    expect(pointCountText(6, 100, {})).toBe('6 points');
    expect(pointCountText(1, null, {})).toBe('1 point');
    expect(pointCountText(3, 100, { 'grid.n': 'ten is not an int' })).toBe(
      'points: invalid (fix n)'
    );
    expect(pointCountText(200, 100, {})).toBe(
      '200 points: above the limit of 100'
    );
  });
  it('says why Productionize is not ready', () => {
    const base = {
      hasNotebook: true,
      busy: false,
      localErrors: {},
      validation: { valid: true, errors: [] },
      kind: 'early_stop' as const
    };
    expect(whyNotReady(base)).toBeNull();
    expect(
      whyNotReady({ ...base, localErrors: { 'strategy.target': 'x' } })
    ).toBe('Fix this field: stop at.');
    expect(whyNotReady({ ...base, validation: null })).toBe(
      'Checking the plan…'
    );
    expect(
      whyNotReady({
        ...base,
        validation: {
          valid: false,
          errors: [{ field: 'timeout', message: 'too long' }]
        }
      })
    ).toBe('timeout: too long');
    expect(fieldName('files.0', 'grid')).toBe('file 1');
  });
});

const run: any = {
  run_id: '20261206T120000-3fa2c1d4e5f60718',
  notebook: 'work/titanic.ipynb',
  strategy: { kind: 'canary' },
  created: 1765022400,
  finished: 1765022400 + 185,
  state: 'success',
  outcome: 'alert',
  points: [
    {
      id: 'p0',
      output: 'mvdp-runs/a/p0.ipynb',
      parameters: { n: 10, d: 2 },
      state: 'success',
      metrics: { acc: 0.5 }
    },
    {
      id: 'p1',
      output: 'mvdp-runs/a/p1.ipynb',
      parameters: { n: 20, d: 2 },
      state: 'success',
      metrics: { acc: 0.6 }
    }
  ]
};

describe('run labels', () => {
  it('names a run by notebook, strategy, start and short id', () => {
    expect(shortRunId(run.run_id)).toBe('3fa2c1');
    const title = runTitle(run);
    expect(title).toMatch(
      /^Run titanic\.ipynb · canary · (\w+ \d+ )?\d\d:\d\d · 3fa2c1$/
    );
  });
  it('durations and badges', () => {
    expect(durationText(42)).toBe('42 s');
    expect(durationText(185)).toBe('3 min 05 s');
    expect(durationText(7620)).toBe('2 h 07 min');
    expect(runBadge(run)).toBe('alert');
    expect(runBadge({ state: 'running', outcome: null })).toBe('running');
  });
  it('says why a run without a metric ranks nothing', () => {
    expect(unrankedReason(run)).toMatch(/No metric/);
    expect(
      unrankedReason({ strategy: { kind: 'grid', metric: 'acc' } })
    ).toBeNull();
  });
  it('labels a compared output with its parameters', () => {
    expect(outputLabel([run], 'mvdp-runs/a/p1.ipynb')).toBe('p1: n=20, d=2');
    expect(outputLabel([run], 'x/other.ipynb')).toBe('other');
  });
});

describe('output notebooks', () => {
  it('are told by their provenance', () => {
    expect(
      outputProvenance({ run_id: 'r', point_id: 'p', input: 'a.ipynb' })
    ).toEqual({ run_id: 'r', point_id: 'p', input: 'a.ipynb' });
    expect(outputProvenance({ plan: {} })).toBeNull();
    expect(outputProvenance(undefined)).toBeNull();
  });
});

describe('plot', () => {
  it('gives integer axes integer ticks and room at the edges', () => {
    const spec = plotSpec(run, 'acc', 'n');
    expect(spec.encoding.x.axis).toEqual({ format: 'd', tickMinStep: 1 });
    expect(spec.encoding.x.scale.padding).toBeGreaterThan(0);
    expect(spec.encoding.y.scale.padding).toBeGreaterThan(0);
  });
  it('ticks a whole-number log axis at the values swept', () => {
    const wide = {
      ...run,
      points: run.points.map((p: any, i: number) => ({
        ...p,
        parameters: { n: [1, 100][i], d: 2 }
      }))
    };
    expect(plotSpec(wide, 'acc', 'n').encoding.x.axis).toEqual({
      format: 'd',
      values: [1, 100]
    });
  });
  it('follows the theme colours, no background of its own', () => {
    const themed = themedSpec(plotSpec(run, 'acc', 'n'), {
      text: '#eee',
      muted: '#aaa',
      grid: '#333',
      font: 'sans'
    });
    expect(themed.config.background).toBeNull();
    expect(themed.config.axis.labelColor).toBe('#eee');
  });
});
