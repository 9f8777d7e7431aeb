import { Signal } from '@lumino/signaling';

import { api, IRun } from '../api';
import { RunsModel } from '../runsModel';
import { RUN_EVENT_SCHEMA } from '../tokens';

jest.mock('../api', () => ({
  api: {
    runs: jest.fn(async () => ({ runs: [], warnings: [] })),
    run: jest.fn()
  }
}));

const flush = () => new Promise(resolve => setTimeout(resolve, 0));

describe('a run the lab did not start', () => {
  it('is announced when it ends within the poll that adopted it', async () => {
    const stream = new Signal<any, any>({});
    const runs = new RunsModel({ stream } as any);
    await flush();
    const finished: IRun[] = [];
    runs.finished.connect((_, run) => finished.push(run));
    const ended = {
      run_id: 'r9',
      state: 'success',
      outcome: 'alert',
      started_by: { kind: 'schedule', user: null }
    } as any as IRun;
    (api.run as jest.Mock).mockResolvedValue(ended);
    const event = (seq: number, kind: string, state: string) => ({
      schema_id: RUN_EVENT_SCHEMA,
      run_id: 'r9',
      seq,
      kind,
      state
    });
    // the server adopted it and synced it in one turn: every event arrives before the lab
    // has the run
    stream.emit(event(1, 'run', 'running'));
    stream.emit(event(2, 'outcome', ''));
    stream.emit(event(3, 'run', 'success'));
    await flush();
    expect(finished).toEqual([ended]);
    expect(runs.get('r9')).toEqual(ended);
    runs.dispose();
  });
});
