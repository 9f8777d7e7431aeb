import { IParameter, IPoint, IRun } from '../api';
import {
  axisSpec,
  buildPlan,
  canonical,
  emptyAxis,
  formFromPlan,
  splitValues
} from '../model';
import {
  applyEvent,
  byRank,
  columnFormat,
  compareChoices,
  heatmapSpec,
  plotSpec,
  rankedPoints,
  rankRows,
  sortedBy,
  sweptParameters,
  triesLines,
  wantsLogScale
} from '../results';
import { isNumericType } from '../values';

const param = (name: string, type: string): IParameter => ({
  name,
  type,
  default: '',
  help: '',
  value: null
});

const point = (id: string, index: number, x: number, acc?: number): IPoint => ({
  id,
  index,
  parameters: { x },
  state: acc === undefined ? 'queued' : 'success',
  metrics: acc === undefined ? {} : { accuracy: acc },
  output: null,
  error: null,
  started: null,
  finished: null,
  tries: []
});

const run = (points: IPoint[]): IRun => ({
  run_id: 'r1',
  pipeline: 'p',
  notebook: 'nb.ipynb',
  target: 'local',
  state: 'running',
  started_by: { kind: 'mvdp', user: 'u' },
  progress: 'triggered',
  strategy: { kind: 'grid', metric: 'accuracy', goal: 'max' },
  plan: { grid: {}, strategy: { kind: 'grid' } },
  outcome: null,
  reason: null,
  message: null,
  unreachable_since: null,
  created: 0,
  updated: 0,
  finished: null,
  counts: {
    queued: points.length,
    running: 0,
    success: 0,
    failed: 0,
    skipped: 0
  },
  points,
  best: null
});

describe('grid editor', () => {
  it('splits values outside quotes and brackets', () => {
    expect(splitValues('1, "a,b", [1, 2], {"k": 1}')).toEqual([
      '1',
      '"a,b"',
      '[1, 2]',
      '{"k": 1}'
    ]);
  });

  it('builds lists and ranges, naming errors', () => {
    const depth = param('max_depth', 'int');
    expect(
      axisSpec({ ...emptyAxis(), mode: 'values', text: '2, 4' }, depth)
    ).toEqual({
      value: [2, 4]
    });
    expect(
      axisSpec({ ...emptyAxis(), mode: 'values', text: '2, x' }, depth)
    ).toEqual({
      error: 'x is not an int'
    });
    expect(
      axisSpec(
        { ...emptyAxis(), mode: 'range', start: '2', stop: '8', step: '2' },
        depth
      )
    ).toEqual({ value: { start: 2, stop: 8, step: 2 } });
    expect(
      axisSpec(
        {
          ...emptyAxis(),
          mode: 'range',
          rangeKind: 'num',
          start: '1',
          stop: '100',
          num: '3',
          log: true
        },
        depth
      )
    ).toEqual({ value: { start: 1, stop: 100, num: 3, log: true } });
    expect(
      axisSpec(
        { ...emptyAxis(), mode: 'range', start: '1', stop: '2', step: '0' },
        depth
      )
    ).toEqual({ error: 'step cannot be 0' });
    expect(axisSpec(emptyAxis(), depth)).toEqual({ value: null });
  });

  it('assembles the plan with its size and executor options', () => {
    const parameters = [
      param('n', 'int'),
      param('c', 'str'),
      param('d', 'int')
    ];
    const { plan, errors, size } = buildPlan(
      {
        axes: {
          n: { ...emptyAxis(), mode: 'values', text: '10, 50' },
          c: { ...emptyAxis(), mode: 'values', text: 'gini, entropy' },
          d: { ...emptyAxis(), mode: 'range', start: '2', stop: '8', step: '2' }
        },
        strategy: {
          kind: 'early_stop',
          metric: 'accuracy',
          goal: 'max',
          target: 0.8,
          budget: 5
        },
        parallelism: '2',
        timeout: '',
        retries: '2',
        retry_delay: '0.5',
        schedule: '@daily',
        queue: 'ml',
        pool: '',
        cpu: '1',
        memory: '',
        notify: [],
        files: []
      },
      parameters
    );
    expect(errors).toEqual({});
    expect(size).toBe(16);
    expect(plan).toEqual({
      grid: {
        n: [10, 50],
        c: ['gini', 'entropy'],
        d: { start: 2, stop: 8, step: 2 }
      },
      strategy: {
        kind: 'early_stop',
        metric: 'accuracy',
        goal: 'max',
        target: 0.8,
        budget: 5
      },
      parallelism: 2,
      retries: 2,
      retry_delay: 0.5,
      schedule: '@daily',
      executor: {
        queue: 'ml',
        executor_config: {
          pod_override: {
            spec: {
              containers: [
                { name: 'base', resources: { requests: { cpu: '1' } } }
              ]
            }
          }
        }
      }
    });
  });
});

describe('retries', () => {
  it('names a bad retries or retry delay and leaves them out of the plan', () => {
    const form = {
      ...formFromPlan({ grid: {}, strategy: { kind: 'grid' } }),
      retries: '1.5',
      retry_delay: '-3'
    };
    const { plan, errors } = buildPlan(form, []);
    expect(errors).toEqual({
      retries: 'retries must be a whole number from 0 to 100',
      retry_delay: 'retry delay must be a number of seconds from 0 to 86400'
    });
    expect(plan.retries).toBeUndefined();
    expect(plan.retry_delay).toBeUndefined();
    expect(
      buildPlan({ ...form, retries: '101', retry_delay: '' }, []).errors
    ).toEqual({ retries: 'retries must be a whole number from 0 to 100' });
    // a day at most: Airflow's timedelta overflowed on 1e308 (max_task_retry_delay)
    expect(
      buildPlan({ ...form, retries: '1', retry_delay: '1e308' }, []).errors
    ).toEqual({
      retry_delay: 'retry delay must be a number of seconds from 0 to 86400'
    });
  });
});

describe('limits from the plan schema', () => {
  it('names the bounds of every number, strategy options too', () => {
    const form = {
      ...formFromPlan({ grid: {}, strategy: { kind: 'grid' } }),
      parallelism: '2000',
      timeout: '0',
      strategy: {
        kind: 'early_stop' as const,
        metric: 'accuracy',
        target: 0.9,
        budget: 0,
        seed: 1.5,
        tolerance: 0.1 // a canary option: not an early stop's
      }
    };
    const { plan, errors } = buildPlan(form, []);
    expect(errors).toEqual({
      parallelism: 'parallelism must be a whole number from 1 to 1024',
      timeout: 'timeout must be a number of seconds above 0, at most 2592000',
      'strategy.budget':
        'budget must be a whole number from 1 to 9007199254740991',
      'strategy.seed':
        'seed must be a whole number from -9007199254740991 to 9007199254740991'
    });
    expect(plan.strategy).toEqual({
      kind: 'early_stop',
      metric: 'accuracy',
      target: 0.9
    });
  });

  it('offers a range for numeric types, unions included', () => {
    expect(isNumericType('Optional[int]')).toBe(true);
    expect(isNumericType('float | None')).toBe(true);
    expect(isNumericType('str')).toBe(false);
    expect(isNumericType("Literal['a']")).toBe(false);
    expect(isNumericType('None')).toBe(false);
  });
});

describe('plan saved in the notebook', () => {
  it('restores the form it was built from', () => {
    const parameters = [
      param('n', 'int'),
      param('c', 'str'),
      param('lr', 'float'),
      param('d', 'int')
    ];
    const plan = {
      grid: {
        n: [10, 50],
        c: ['gini', 'entropy'],
        lr: { start: 0.001, stop: 0.1, num: 3, log: true },
        d: { start: 2, stop: 8, step: 2 }
      },
      strategy: {
        kind: 'canary' as const,
        metric: 'accuracy',
        goal: 'min' as const,
        tolerance: 0.01
      },
      parallelism: 2,
      timeout: 60,
      retries: 1,
      retry_delay: 0,
      schedule: '@daily',
      executor: {
        pool: 'p',
        executor_config: {
          pod_override: {
            spec: {
              containers: [
                { name: 'base', resources: { requests: { memory: '1Gi' } } }
              ]
            }
          }
        }
      }
    };
    const form = formFromPlan(plan);
    expect(form.axes.lr).toMatchObject({
      mode: 'range',
      rangeKind: 'num',
      log: true
    });
    const rebuilt = buildPlan(form, parameters);
    expect(rebuilt.errors).toEqual({});
    expect(canonical(rebuilt.plan)).toBe(canonical(plan));
  });

  it('keeps the files that travel with the notebook, naming an empty or repeated row', () => {
    const parameters = [param('n', 'int')];
    const plan = {
      grid: {},
      strategy: { kind: 'grid' as const },
      files: ['datasets/titanic.csv', 'lookup/*.json']
    };
    const form = formFromPlan(plan);
    expect(form.files).toEqual(plan.files);
    expect(canonical(buildPlan(form, parameters).plan)).toBe(canonical(plan));
    const edited = {
      ...form,
      files: [
        ' datasets/titanic.csv ',
        '',
        'lookup/*.json',
        'datasets/titanic.csv'
      ]
    };
    const built = buildPlan(edited, parameters);
    expect(built.errors).toEqual({
      'files.1': 'give a path or a glob, relative to the notebook',
      'files.3': 'datasets/titanic.csv is already in the list'
    });
    expect(buildPlan({ ...form, files: [] }, parameters).plan.files).toBe(
      undefined
    );
  });

  it('compares plans regardless of key order', () => {
    expect(canonical({ a: 1, b: [{ y: 2, x: 1 }] })).toBe(
      canonical({ b: [{ x: 1, y: 2 }], a: 1 })
    );
  });
});

describe('run views', () => {
  it('formats a column with one number of decimals', () => {
    expect([0.1, 1, 10].map(columnFormat([0.1, 1, 10]))).toEqual([
      '0.1',
      '1.0',
      '10.0'
    ]);
    expect([0.81234567, 0.9].map(columnFormat([0.81234567, 0.9]))).toEqual([
      '0.8123',
      '0.9000'
    ]);
    expect([1, 10].map(columnFormat([1, 10]))).toEqual(['1', '10']);
    expect(columnFormat([0.00001, 1])(0.00001)).toBe('1.00e-5');
    expect(columnFormat(['gini'])('gini')).toBe('gini');
  });

  it("marks ties, keeps the server's ranks and folds skipped points apart", () => {
    const skipped = { ...point('s', 3, 4), state: 'skipped' as const };
    const { rows, skipped: folded } = rankRows(
      run([
        point('a', 0, 1, 0.8),
        point('b', 1, 2, 0.9),
        point('c', 2, 3, 0.8),
        skipped,
        point('e', 4, 5)
      ])
    );
    expect(rows.map(r => [r.point.id, r.rank, r.tie])).toEqual([
      ['b', 1, false],
      ['a', 2, true],
      ['c', 3, true],
      ['e', null, false]
    ]);
    expect(folded.map(p => p.id)).toEqual(['s']);
  });

  it("shows the server's ranks, and ranks as it does once events change the points", () => {
    const ranked = (p: IPoint, rank: number | null) => ({ ...p, rank });
    let r: any = run([
      ranked(point('a', 0, 1, 0.8), 1),
      ranked(point('b', 1, 2, 0.7), 2),
      ranked(point('q', 2, 3), null)
    ]);
    const ids = () => rankRows(r).rows.map(row => [row.point.id, row.rank]);
    expect(ids()).toEqual([
      ['a', 1],
      ['b', 2],
      ['q', null]
    ]);
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 1,
      points: [{ id: 'b', state: 'success', metrics: { accuracy: 0.95 } }]
    });
    expect(ids()).toEqual([
      ['b', 1],
      ['a', 2],
      ['q', null]
    ]);
  });

  it('uses a log axis for a log range or two decades', () => {
    const r = run([point('a', 0, 0.1, 0.5), point('b', 1, 10, 0.7)]);
    expect(wantsLogScale(r, 'x')).toBe(true);
    expect(plotSpec(r, 'accuracy', 'x').encoding.x.scale).toMatchObject({
      type: 'log'
    });
    const narrow = run([point('a', 0, 1, 0.5), point('b', 1, 10, 0.7)]);
    expect(wantsLogScale(narrow, 'x')).toBe(false);
    narrow.plan = {
      grid: { x: { start: 1, stop: 10, num: 2, log: true } },
      strategy: { kind: 'grid' }
    };
    expect(wantsLogScale(narrow, 'x')).toBe(true);
  });

  it('draws a heatmap of the metric over two swept parameters', () => {
    const two = (id: string, x: number, y: string, acc: number): IPoint => ({
      ...point(id, 0, x, acc),
      parameters: { x, y, fixed: 1 }
    });
    const r = run([
      two('a', 1, 'u', 0.5),
      two('b', 2, 'u', 0.6),
      two('c', 1, 'v', 0.7)
    ]);
    expect(sweptParameters(r)).toEqual(['x', 'y']);
    const spec = heatmapSpec(r, 'accuracy', 'x', 'y');
    expect(spec.mark.type).toBe('rect');
    expect(spec.data.values).toEqual([
      { x: '1', y: 'u', accuracy: 0.5 },
      { x: '2', y: 'u', accuracy: 0.6 },
      { x: '1', y: 'v', accuracy: 0.7 }
    ]);
  });
});

describe('runs', () => {
  it('shows an unreachable target until a run event clears it', () => {
    let r: any = run([point('a', 0, 1)]);
    const message = 'Airflow unreachable since 10:08:07; retrying every 1 s';
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'run',
      seq: 1,
      state: 'unknown',
      message,
      unreachable_since: 100
    });
    expect([r.state, r.message, r.unreachable_since]).toEqual([
      'unknown',
      message,
      100
    ]);
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 2,
      points: [
        {
          id: 'a',
          state: 'running',
          tries: [
            { try: 1, state: 'failed', error: 'boom', started: 1, finished: 2 }
          ]
        }
      ]
    });
    expect(r.points[0].tries[0].error).toBe('boom');
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'run',
      seq: 3,
      state: 'running',
      message: null,
      unreachable_since: null
    });
    expect([r.state, r.message, r.unreachable_since]).toEqual([
      'running',
      null,
      null
    ]);
  });

  it('applies events in order, ignoring stale ones, and recounts', () => {
    let r: any = run([point('a', 0, 1), point('b', 1, 2)]);
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 1,
      points: [{ id: 'a', state: 'running' }]
    });
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 2,
      points: [{ id: 'a', state: 'success', output: 'o.ipynb' }]
    });
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 3,
      points: [
        {
          id: 'a',
          state: 'success',
          output: 'o.ipynb',
          metrics: { accuracy: 0.8 }
        }
      ]
    });
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'points',
      seq: 2,
      points: [{ id: 'a', state: 'running' }]
    });
    r = applyEvent(r, {
      run_id: 'other',
      kind: 'points',
      seq: 9,
      points: [{ id: 'b', state: 'failed' }]
    });
    expect(r.points[0]).toMatchObject({
      state: 'success',
      output: 'o.ipynb',
      metrics: { accuracy: 0.8 }
    });
    expect(r.counts).toEqual({
      queued: 1,
      running: 0,
      success: 1,
      failed: 0,
      skipped: 0
    });
    r = applyEvent(r, {
      run_id: 'r1',
      kind: 'outcome',
      seq: 4,
      outcome: 'alert',
      reason: 'too low'
    });
    r = applyEvent(r, { run_id: 'r1', kind: 'run', seq: 5, state: 'success' });
    expect([r.state, r.outcome, r.reason]).toEqual([
      'success',
      'alert',
      'too low'
    ]);
  });

  it('ranks best first, unscored last, and plots finished points', () => {
    const points = [
      point('a', 0, 1, 0.7),
      point('b', 1, 2),
      point('c', 2, 3, 0.9)
    ];
    const ranked = (goal: 'max' | 'min') =>
      byRank(
        rankedPoints({
          ...run(points),
          strategy: { kind: 'grid', metric: 'accuracy', goal }
        })
      ).map(p => p.id);
    expect(ranked('max')).toEqual(['c', 'a', 'b']);
    expect(ranked('min')).toEqual(['a', 'c', 'b']);
    expect(
      sortedBy(points, { key: 'x', descending: true }).map(p => p.id)
    ).toEqual(['c', 'b', 'a']);
    const spec = plotSpec(
      {
        ...run(points),
        best: { id: 'c', parameters: {}, metrics: {}, output: null }
      },
      'accuracy',
      'x'
    );
    expect(spec.data.values).toEqual([
      { x: 1, accuracy: 0.7, point: 'a', best: 'other' },
      { x: 3, accuracy: 0.9, point: 'c', best: 'best' }
    ]);
    expect(spec.encoding.x.type).toBe('quantitative');
  });

  it("lists a retried point's tries, oldest first, and nothing for one try", () => {
    const once = point('a', 0, 1, 0.5);
    once.tries = [
      { try: 1, state: 'success', error: null, started: 10, finished: 12 }
    ];
    expect(triesLines(once)).toEqual([]);
    const retried = point('b', 1, 2, 0.6);
    retried.tries = [
      {
        try: 1,
        state: 'failed',
        error: 'worker lost',
        started: 10,
        finished: 22.34
      },
      { try: 2, state: 'success', error: null, started: 30, finished: 32 },
      { try: 3, state: null, error: null, started: null, finished: null }
    ];
    expect(triesLines(retried)).toEqual([
      'try 1: failed after 12.3 s: worker lost',
      'try 2: success after 2.0 s',
      'try 3: not started'
    ]);
  });

  it('offers the other points with an output to compare with, best first', () => {
    const withOutput = (p: IPoint) => ({ ...p, output: `out/${p.id}.ipynb` });
    const failed = {
      ...withOutput(point('f', 3, 4, 0.99)),
      state: 'failed' as const
    };
    const points = [
      withOutput(point('a', 0, 1, 0.7)),
      point('q', 1, 2), // queued: no output yet
      withOutput(point('c', 2, 3, 0.9)),
      failed
    ];
    const r = run(points);
    expect(compareChoices(r, points[0])).toEqual([
      { id: 'c', output: 'out/c.ipynb', label: 'c x=3' },
      { id: 'f', output: 'out/f.ipynb', label: 'f x=4' }
    ]);
    expect(compareChoices(r, points[2]).map(o => o.id)).toEqual(['a', 'f']);
  });

  it('never ranks or plots a point that failed after recording its metric', () => {
    const failed = { ...point('f', 3, 4, 0.99), state: 'failed' as const };
    const points = [point('a', 0, 1, 0.7), failed, point('c', 2, 3, 0.9)];
    expect(byRank(rankedPoints(run(points))).map(p => p.id)).toEqual([
      'c',
      'a',
      'f'
    ]);
    const { rows } = rankRows(run(points));
    expect(rows.map(r => [r.point.id, r.rank])).toEqual([
      ['c', 1],
      ['a', 2],
      ['f', null]
    ]);
    expect(
      plotSpec(run(points), 'accuracy', 'x').data.values.map(
        (v: any) => v.point
      )
    ).toEqual(['a', 'c']);
  });
});
