/**
 * What the chosen target's policy (jupyter_mvdp/core/policy.py, served in
 * `GET /mvdp/targets`) lets the panel offer, and where the server's field errors show in
 * the form. Pure: the server checks the policy itself, at validate and at deploy.
 */
import { IPolicy } from './api';

export interface IExecutionChoices {
  /** the queues a plan may name; null: any (a free text field) */
  queues: string[] | null;
  pools: string[] | null;
  /** CPU / memory (a Kubernetes pod_override) may be asked at all */
  resources: boolean;
  maxCpu: string | null;
  maxMemory: string | null;
  maxParallelism: number | null;
  schedules: IPolicy['schedules'];
  /** the presets a `presets` policy offers */
  presets: string[];
  /** seconds a schedule must leave between two runs */
  minInterval: number;
}

/** Everything open: a server that sends no policy (it still checks its own). */
const OPEN: IExecutionChoices = {
  queues: null,
  pools: null,
  resources: true,
  maxCpu: null,
  maxMemory: null,
  maxParallelism: null,
  schedules: 'any',
  presets: [],
  minInterval: 0
};

export function executionChoices(policy?: IPolicy | null): IExecutionChoices {
  if (!policy) {
    return OPEN;
  }
  return {
    queues: policy.queues,
    pools: policy.pools,
    resources: policy.executor_config,
    maxCpu: policy.executor_config ? policy.max_cpu : null,
    maxMemory: policy.executor_config ? policy.max_memory : null,
    maxParallelism: policy.max_parallelism,
    schedules: policy.schedules,
    presets: policy.presets,
    minInterval: policy.min_schedule_interval
  };
}

/** The options of a select: the allowed values, and the current one when it is not among
 * them (a plan saved earlier), so the form shows it and its error rather than hiding it. */
export function optionsWith(allowed: string[], current: string): string[] {
  return current && !allowed.includes(current)
    ? [...allowed, current]
    : allowed;
}

/** "1 h", "30 min", "2 d": an interval for a hint. */
export function intervalText(seconds: number): string {
  if (seconds >= 86400 && seconds % 86400 === 0) {
    return `${seconds / 86400} d`;
  }
  if (seconds >= 3600 && seconds % 3600 === 0) {
    return `${seconds / 3600} h`;
  }
  if (seconds >= 60 && seconds % 60 === 0) {
    return `${seconds / 60} min`;
  }
  return `${seconds} s`;
}

const RESOURCE =
  /^executor\.executor_config\.pod_override\.spec\.containers\.0\.resources\.(requests|limits)\.(cpu|memory)$/;

/**
 * The form field that shows a server error of `field` (a plan path): the executor's
 * queue, pool and the first container's CPU / memory have their inputs; any other
 * executor field shows under the execution options (`executor`).
 */
export function formField(field: string): string {
  if (field === 'executor.queue' || field === 'executor.pool') {
    return field.slice('executor.'.length);
  }
  const resource = RESOURCE.exec(field);
  if (resource) {
    return resource[2];
  }
  if (field.startsWith('executor')) {
    return 'executor';
  }
  return field;
}
