import { IChampion, IPlan } from '../api';
import {
  championPeriods,
  startedByLabel,
  startedElsewhere,
  STARTED_BY
} from '../history';
import { buildPlan, formFromPlan } from '../model';
import { notifyLabel } from '../notify';

describe('who started a run', () => {
  it.each([
    [{ kind: 'schedule', user: null }, 'schedule'],
    [{ kind: 'schedule', user: 'airflow' }, 'schedule'],
    [{ kind: 'ui', user: 'ann' }, 'Airflow UI (ann)'],
    [{ kind: 'api', user: 'ci-bot' }, 'Airflow API (ci-bot)'],
    [{ kind: 'mvdp', user: 'bob' }, 'jupyter-mvdp (bob)'],
    [{ kind: 'new-kind', user: null }, 'new-kind']
  ])('%j reads %s', (by, label) => {
    expect(startedByLabel(by)).toBe(label);
  });

  it('a run without the field (an older server) is one of ours', () => {
    expect(startedByLabel(undefined)).toBe(STARTED_BY.mvdp);
    expect(startedElsewhere(undefined)).toBe(false);
    expect(startedElsewhere({ kind: 'mvdp', user: 'ann' })).toBe(false);
    expect(startedElsewhere({ kind: 'schedule', user: null })).toBe(true);
  });
});

describe('champions over time', () => {
  it('each champion is in office until the next one', () => {
    const champion = (at: number): IChampion => ({
      metric: 'acc',
      value: at / 10,
      run_id: `r${at}`,
      point_id: null,
      at
    });
    const periods = championPeriods([champion(3), champion(2), champion(1)]);
    expect(periods.map(p => [p.at, p.until])).toEqual([
      [3, null],
      [2, 3],
      [1, 2]
    ]);
  });
});

describe("the plan's notify", () => {
  const notify: NonNullable<IPlan['notify']> = [
    {
      channel: 'email',
      on: ['canary_alert', 'run_failed'],
      to: ['ops@example.com']
    },
    { channel: 'slack', on: ['run_failed'], slack_webhook_conn_id: 'team' },
    { channel: 'webhook', on: ['canary_deployed'], endpoint: '/hooks/mvdp' }
  ];

  it('reads as who hears of what through which connection', () => {
    expect(notify.map(notifyLabel)).toEqual([
      'email to ops@example.com on canary alert, run failed (smtp_default)',
      'Slack on run failed (team)',
      'webhook /hooks/mvdp on canary deployed (http_default)'
    ]);
  });

  it('goes through the form unchanged', () => {
    const plan: IPlan = {
      grid: {},
      strategy: { kind: 'canary', metric: 'acc', goal: 'max' },
      notify
    };
    const { plan: built } = buildPlan(formFromPlan(plan), []);
    expect(built.notify).toEqual(notify);
    const without = buildPlan(formFromPlan({ ...plan, notify: undefined }), []);
    expect(without.plan.notify).toBeUndefined();
  });
});
