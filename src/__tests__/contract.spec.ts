/**
 * The fixtures both languages run (tests/contract/*.json; pytest runs them against the
 * server's code in tests/contract/test_fixtures.py), and the generated plan schema.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { IParameter, IPoint, IRun } from '../api';
import { AxisError, axisLength, axisSize, distinctValues } from '../grid';
import { buildPlan, formFromPlan } from '../model';
import { PLAN_SCHEMA } from '../planSchema';
import { rankPoints, rankRows } from '../results';
import { parseValue } from '../values';

const ROOT = path.resolve(__dirname, '..', '..');

const fixture = (name: string): any[] =>
  JSON.parse(
    fs.readFileSync(path.join(ROOT, 'tests', 'contract', name), 'utf-8')
  ).cases;

const parameters = (types: { [name: string]: string }): IParameter[] =>
  Object.entries(types).map(([name, type]) => ({
    name,
    type,
    default: '',
    help: '',
    value: null
  }));

describe('grids.json', () => {
  const cases = fixture('grids.json');
  const sized = cases.filter(c => !('error' in c));
  const refused = cases.filter(c => 'error' in c);

  it.each(sized.map(c => [c.name, c]))('%s', (_, c) => {
    const axes = Object.entries(c.grid) as [string, any][];
    const product = (f: (axis: any, type: string) => number) =>
      axes.reduce((n, [name, axis]) => n * f(axis, c.parameters[name]), 1);
    expect(product(axisSize)).toBe(c.size);
    expect(product(axisLength)).toBe(c.points);
    for (const [name, values] of Object.entries(c.values ?? {})) {
      expect(distinctValues(c.grid[name], c.parameters[name])).toEqual(values);
    }
    // the plan editor, showing this grid and building it again, counts the same points
    const form = formFromPlan({ grid: c.grid, strategy: { kind: 'grid' } });
    const built = buildPlan(form, parameters(c.parameters));
    expect(built.errors).toEqual({});
    expect(built.size).toBe(c.points);
  });

  it.each(refused.map(c => [c.name, c]))('refuses %s', (_, c) => {
    const form = formFromPlan({ grid: c.grid, strategy: { kind: 'grid' } });
    const built = buildPlan(form, parameters(c.parameters));
    expect(built.errors).toEqual({
      [c.error.field]: c.frontend_message ?? c.error.message
    });
    if (!c.frontend_message) {
      // a range the editor accepts and the server refuses: the server's words
      const [name, axis] = Object.entries(c.grid)[0] as [string, any];
      expect(() => axisLength(axis, c.parameters[name])).toThrow(
        new AxisError(c.error.message)
      );
    }
  });
});

describe('values.json', () => {
  it.each(fixture('values.json').map(c => [c.type, c.text, c]))(
    '%s: %j',
    (type, text, c) => {
      expect(parseValue(text, type)).toEqual(
        'error' in c ? { error: c.error } : { value: c.value }
      );
    }
  );
});

describe('leaderboard.json', () => {
  const point = (p: any, index: number): IPoint => ({
    id: p.id,
    index,
    parameters: {},
    state: p.state,
    metrics: p.metrics,
    output: null,
    error: null,
    started: null,
    finished: null,
    tries: []
  });
  const run = (c: any, points: IPoint[]): IRun =>
    ({
      run_id: 'r',
      strategy: {
        kind: 'grid',
        ...(c.metric ? { metric: c.metric } : {}),
        goal: c.goal
      },
      points
    }) as any;

  it.each(fixture('leaderboard.json').map(c => [c.name, c]))('%s', (_, c) => {
    const points: IPoint[] = c.points.map(point);
    const ranked = rankPoints(points, c.metric ?? undefined, c.goal);
    expect(Object.fromEntries(ranked.map(p => [p.id, p.rank]))).toEqual(
      c.ranks
    );
    const skipped = new Set(
      c.points.filter((p: any) => p.state === 'skipped').map((p: any) => p.id)
    );
    const expected = {
      rows: c.order.filter((id: string) => !skipped.has(id)),
      skipped: c.order.filter((id: string) => skipped.has(id))
    };
    // a run as REST sends it (the server's ranks), and one changed by events since
    const withRanks = points.map(p => ({ ...p, rank: c.ranks[p.id] }));
    for (const r of [run(c, withRanks), run(c, points)]) {
      const { rows, skipped: folded } = rankRows(r);
      expect({
        rows: rows.map(row => row.point.id),
        skipped: folded.map(p => p.id)
      }).toEqual(expected);
      expect(rows.map(row => row.rank)).toEqual(
        expected.rows.map((id: string) => c.ranks[id])
      );
    }
  });
});

describe('the plan schema', () => {
  it('is the schema of jupyter_mvdp/core', () => {
    const schema = JSON.parse(
      fs.readFileSync(
        path.join(ROOT, 'jupyter_mvdp', 'core', 'plan.schema.json'),
        'utf-8'
      )
    );
    expect(PLAN_SCHEMA).toEqual(schema);
  });

  it('src/planSchema.ts is up to date (jlpm build:schema)', () => {
    const script = path.join(ROOT, 'scripts', 'generate-plan-schema.js');
    expect(() =>
      execFileSync(process.execPath, [script, '--check'], { stdio: 'pipe' })
    ).not.toThrow();
  });
});
