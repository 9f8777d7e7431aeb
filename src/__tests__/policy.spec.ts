/**
 * The panel offers only what the target's policy allows (src/policy.ts, and the execution
 * options of TargetForm rendered to markup), and shows the server's policy errors where
 * their field is.
 */
import * as React from 'react';

import { IPolicy } from '../api';
import { TargetForm } from '../components/TargetForm';
import { initialForm } from '../model';
import { PlanModel } from '../planModel';
import {
  executionChoices,
  formField,
  intervalText,
  optionsWith
} from '../policy';

// react-dom ships no types here (no @types/react-dom): its server renderer, untyped
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { renderToStaticMarkup } = require('react-dom/server');

const TEAM: IPolicy = {
  queues: ['ml'],
  pools: [],
  connections: ['smtp_default'],
  executor_config: true,
  images: [],
  service_accounts: [],
  secrets: [],
  config_maps: [],
  volume_claims: [],
  node_selectors: {},
  max_cpu: '4',
  max_memory: '16Gi',
  max_grid: 100,
  max_parallelism: 8,
  max_active_runs: 3,
  schedules: 'presets',
  min_schedule_interval: 3600,
  presets: ['@hourly', '@daily', '@once']
};

/** The markup of the target section for a target with `policy` and the form `fields`. */
function render(
  policy: IPolicy | undefined,
  fields: { [key: string]: string } = {},
  errors: { [field: string]: string } = {}
): string {
  const target = {
    name: 'team',
    kind: 'airflow',
    default: true,
    reachable: true,
    message: null,
    settings: {},
    capabilities: {} as any,
    policy
  };
  const model = {
    form: { ...initialForm(), ...fields },
    fieldErrors: errors,
    targets: [target],
    target: 'team',
    chosenTarget: target,
    choices: executionChoices(policy),
    valid: true,
    busy: false,
    submitError: null
  } as unknown as PlanModel;
  return renderToStaticMarkup(React.createElement(TargetForm, { model }));
}

const select = (html: string, label: string): string[] | null => {
  const found = new RegExp(
    `<select aria-label="${label}"[^>]*>(.*?)</select>`
  ).exec(html);
  return found
    ? [...found[1].matchAll(/<option value="([^"]*)"/g)].map(m => m[1])
    : null;
};
const input = (html: string, label: string): string | null =>
  new RegExp(`<input aria-label="${label}"[^>]*>`).exec(html)?.[0] ?? null;

describe('the execution options offer what the policy allows', () => {
  it('queues and pools as selects of the allowed values', () => {
    const html = render(TEAM);
    expect(select(html, 'queue')).toEqual(['', 'ml']);
    expect(select(html, 'pool')).toEqual(['']); // none allowed: the default only
  });

  it('keeps a saved value that is not allowed visible, with its error', () => {
    const html = render(
      TEAM,
      { queue: 'team-b' },
      { queue: "queue 'team-b' is not allowed" }
    );
    expect(select(html, 'queue')).toEqual(['', 'ml', 'team-b']);
    expect(html).toContain('is not allowed');
  });

  it('bounds CPU, memory and parallelism', () => {
    const html = render(TEAM);
    expect(input(html, 'cpu')).toContain('placeholder="at most 4"');
    expect(input(html, 'memory')).toContain('data-max="16Gi"');
    expect(input(html, 'parallelism')).toContain('max="8"');
  });

  it('offers no CPU or memory where executor_config is not allowed', () => {
    const html = render({ ...TEAM, executor_config: false });
    expect(input(html, 'cpu')).toContain('disabled=""');
    expect(input(html, 'memory')).toContain('not allowed on this target');
  });

  it('offers the allowed presets as the schedule', () => {
    expect(select(render(TEAM), 'schedule')).toEqual([
      '',
      '@hourly',
      '@daily',
      '@once'
    ]);
    const none = render({ ...TEAM, schedules: 'none' });
    expect(input(none, 'schedule')).toContain('disabled=""');
    const any = render({ ...TEAM, schedules: 'any' });
    expect(input(any, 'schedule')).toContain('1 h apart at least');
  });

  it('leaves everything open for a server without a policy', () => {
    const html = render(undefined);
    expect(select(html, 'queue')).toBeNull();
    expect(input(html, 'queue')).not.toBeNull();
    expect(input(html, 'cpu')).not.toContain('disabled');
  });
});

describe('policy helpers', () => {
  it('maps server fields to the form', () => {
    const pod = 'executor.executor_config.pod_override.spec';
    expect(formField('executor.queue')).toBe('queue');
    expect(formField('executor.pool')).toBe('pool');
    expect(formField(`${pod}.containers.0.resources.requests.cpu`)).toBe('cpu');
    expect(formField(`${pod}.containers.0.resources.limits.memory`)).toBe(
      'memory'
    );
    expect(formField(`${pod}.hostNetwork`)).toBe('executor');
    expect(formField('executor.executor_config')).toBe('executor');
    expect(formField('schedule')).toBe('schedule');
    expect(formField('grid.x')).toBe('grid.x');
  });

  it('keeps the current value among the options', () => {
    expect(optionsWith(['a'], '')).toEqual(['a']);
    expect(optionsWith(['a'], 'a')).toEqual(['a']);
    expect(optionsWith(['a'], 'b')).toEqual(['a', 'b']);
  });

  it('says intervals', () => {
    expect(intervalText(3600)).toBe('1 h');
    expect(intervalText(86400 * 2)).toBe('2 d');
    expect(intervalText(1800)).toBe('30 min');
    expect(intervalText(90)).toBe('90 s');
  });

  it('reads a policy', () => {
    const choices = executionChoices({ ...TEAM, executor_config: false });
    expect(choices.resources).toBe(false);
    expect(choices.maxCpu).toBeNull();
    expect(executionChoices(TEAM).maxParallelism).toBe(8);
  });
});
