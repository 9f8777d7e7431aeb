/**
 * The client's paging model of a big run (src/pointsWindow.ts) against a stand-in for
 * GET runs/<id>/points that cuts pages from 10,000 points, and RunsModel keeping summaries
 * in the list and a page in an opened run.
 */
import { Signal } from '@lumino/signaling';

import { api, IPageQuery, IPoint, IPointsPage, IRun } from '../api';
import { PointsWindow } from '../pointsWindow';
import { applyEvent, hasAllPoints, pointCount } from '../results';
import { RunsModel } from '../runsModel';
import { RUN_EVENT_SCHEMA } from '../tokens';

jest.mock('../api', () => ({
  ...jest.requireActual('../api'),
  api: {
    runs: jest.fn(async () => ({ runs: [], warnings: [] })),
    run: jest.fn(),
    points: jest.fn()
  }
}));

const point = (i: number): IPoint => ({
  id: `p-${i}`,
  index: i,
  parameters: { x: i },
  state: 'success',
  metrics: { score: i },
  output: null,
  error: null,
  started: null,
  finished: null,
  tries: [],
  rank: i + 1
});

const ALL = Array.from({ length: 10_000 }, (_, i) => point(i));

/** The server's pages (the real one is tested in tests/server/test_big_run.py). */
function server() {
  const asked: IPageQuery[] = [];
  const fetch = async (runId: string, q: IPageQuery): Promise<IPointsPage> => {
    asked.push(q);
    const offset = q.offset ?? 0;
    const limit = q.limit ?? 200;
    return {
      total: ALL.length,
      offset,
      limit,
      sort: q.sort ?? 'rank',
      order: q.order ?? 'asc',
      state: q.state ?? [],
      points: ALL.slice(offset, offset + limit)
    };
  };
  return { asked, fetch };
}

const QUERY = { sort: 'rank', order: 'asc' as const, state: [] };

describe('a window on a big run', () => {
  it('fetches only the pages in view, once each', async () => {
    const { asked, fetch } = server();
    const win = new PointsWindow('r', QUERY, { pageSize: 100, fetch });
    expect(win.total).toBeNull();
    await win.ensure(0, 30);
    expect(win.total).toBe(10_000);
    expect(win.rowAt(29)?.id).toBe('p-29');
    expect(win.rowAt(100)).toBeUndefined();
    await win.ensure(10, 40); // same page: no request
    await win.ensure(5050, 5080);
    expect(win.rowAt(5079)?.id).toBe('p-5079');
    await win.ensure(9990, 10_050); // past the end: nothing asked for
    expect(asked.map(q => [q.offset, q.limit])).toEqual([
      [0, 100],
      [5000, 100],
      [9900, 100]
    ]);
    expect(asked[0]).toMatchObject(QUERY);
  });

  it('asks once for a page wanted twice at the same time', async () => {
    const { asked, fetch } = server();
    const win = new PointsWindow('r', QUERY, { pageSize: 50, fetch });
    await Promise.all([
      win.ensure(0, 10),
      win.ensure(5, 20),
      win.ensure(60, 70)
    ]);
    expect(asked.map(q => q.offset)).toEqual([0, 50]);
  });

  it('starts from the rows it was given, without a request', async () => {
    const { asked, fetch } = server();
    const win = new PointsWindow('r', QUERY, { pageSize: 100, fetch });
    win.seed(ALL.slice(0, 150), 150);
    await win.ensure(0, 150);
    expect(asked).toEqual([]);
    expect(win.rowAt(149)?.id).toBe('p-149');
    expect(win.total).toBe(150);
  });

  it('keeps stale rows in view after a change, refetches them, and drops old answers', async () => {
    const answers: ((page: IPointsPage) => void)[] = [];
    const fetch = (_: string, q: IPageQuery) =>
      new Promise<IPointsPage>(resolve => answers.push(resolve));
    const page = (id: string): IPointsPage => ({
      total: 1,
      offset: 0,
      limit: 100,
      sort: 'rank',
      order: 'asc',
      state: [],
      points: [{ ...point(0), id }]
    });
    const win = new PointsWindow('r', QUERY, { pageSize: 100, fetch });
    const first = win.ensure(0, 10);
    answers[0](page('old'));
    await first;
    win.invalidate();
    expect(win.rowAt(0)?.id).toBe('old'); // never blank while the new page comes
    const late = win.ensure(0, 10); // asked again after the change
    win.invalidate(); // and the run changed once more before the answer
    const latest = win.ensure(0, 10);
    answers[2](page('new'));
    await latest;
    answers[1](page('between')); // answers the question asked before the last change
    await Promise.all([late, latest]);
    expect(answers.length).toBe(3);
    expect(win.rowAt(0)?.id).toBe('new');
  });
});

describe('a run document of a big run', () => {
  const summary = {
    run_id: 'big',
    state: 'running',
    strategy: { kind: 'grid', metric: 'score', goal: 'max' },
    counts: { queued: 9_800, running: 0, success: 200, failed: 0, skipped: 0 },
    best: null
  } as any;
  const doc: IRun = {
    ...summary,
    points: ALL.slice(0, 200),
    page: {
      total: 10_000,
      offset: 0,
      limit: 200,
      sort: 'rank',
      order: 'asc',
      state: []
    }
  };

  it('takes counts from events and changes only the loaded points it names', () => {
    expect(hasAllPoints(doc)).toBe(false);
    expect(pointCount(doc)).toBe(10_000);
    const next = applyEvent(doc, {
      run_id: 'big',
      kind: 'points',
      seq: 1,
      points: [
        { id: 'p-3', state: 'failed', error: 'boom' },
        { id: 'p-9000', state: 'success', metrics: { score: 1e9 } }
      ],
      counts: { queued: 9_799, running: 0, success: 200, failed: 1, skipped: 0 }
    });
    expect(next.counts.failed).toBe(1);
    expect(next.points[3]).toMatchObject({ state: 'failed', error: 'boom' });
    expect(next.points.length).toBe(200); // p-9000 is on another page
    // the server's ranks stay: a page cannot rank the run
    expect(next.points.map(p => p.rank)).toEqual(doc.points.map(p => p.rank));
  });

  it('the list keeps summaries; an opened run its page, both live', async () => {
    (api.runs as jest.Mock).mockResolvedValue({
      runs: [summary],
      warnings: []
    });
    (api.run as jest.Mock).mockResolvedValue(doc);
    const stream = new Signal<any, any>({});
    const runs = new RunsModel({ stream } as any);
    await runs.reload();
    expect(runs.runs[0]).not.toHaveProperty('points');
    expect(runs.get('big')).toBeUndefined(); // not opened yet
    await runs.fetch('big');
    expect(runs.get('big')?.points.length).toBe(200);
    expect(runs.runs[0]).not.toHaveProperty('points');
    stream.emit({
      schema_id: RUN_EVENT_SCHEMA,
      run_id: 'big',
      kind: 'points',
      seq: 4,
      points: [{ id: 'p-0', state: 'failed' }],
      counts: { queued: 9_799, running: 0, success: 199, failed: 1, skipped: 1 }
    });
    expect(runs.get('big')?.points[0].state).toBe('failed');
    expect(runs.runs[0].counts.failed).toBe(1);
    expect(runs.get('big')?.counts.failed).toBe(1);
    runs.dispose();
  });
});
