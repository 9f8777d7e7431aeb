/** Where and how the plan runs: the target, a schedule, execution options, Productionize. */
import * as React from 'react';

import { notifyLabel } from '../notify';
import { PlanModel } from '../planModel';
import { IExecutionChoices, intervalText, optionsWith } from '../policy';

const OPTIONS = [
  ['parallelism', 'parallelism'],
  ['timeout', 'timeout'],
  ['retries', 'retries'],
  ['retry_delay', 'retry delay (s)'],
  ['queue', 'queue'],
  ['pool', 'pool'],
  ['cpu', 'CPU (Kubernetes)'],
  ['memory', 'memory (Kubernetes)']
] as const;

/** Productionize itself is in the action bar (ActionBar.tsx), kept in view. */
export function TargetForm(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const errors = model.fieldErrors;
  const chosen = model.chosenTarget;
  const choices = model.choices; // what the target's policy lets a plan ask
  return (
    <section className="jp-mvdp-section" aria-label="Target">
      <h3>Target</h3>
      <label className="jp-mvdp-field">
        <span>target</span>
        <select
          aria-label="target to run on"
          value={model.target}
          onChange={e => model.setTarget(e.target.value)}
        >
          {model.targets.map(t => (
            <option key={t.name} value={t.name}>
              {t.name} ({t.kind}){t.reachable ? '' : ' — unreachable'}
            </option>
          ))}
        </select>
      </label>
      {chosen && !chosen.reachable && (
        <div className="jp-mvdp-warning">{chosen.message}</div>
      )}
      <label className="jp-mvdp-field">
        <span>schedule</span>
        {choices.schedules === 'presets' ? (
          <select
            aria-label="schedule"
            value={model.form.schedule}
            onChange={e => model.setField('schedule', e.target.value)}
          >
            <option value="">on demand</option>
            {optionsWith(choices.presets, model.form.schedule).map(p => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        ) : (
          <input
            aria-label="schedule"
            disabled={choices.schedules === 'none' && !model.form.schedule}
            placeholder={
              choices.schedules === 'none'
                ? 'on demand only, on this target'
                : 'on demand, @daily, a cron' +
                  (choices.minInterval
                    ? ` (runs ${intervalText(choices.minInterval)} apart at least)`
                    : '')
            }
            value={model.form.schedule}
            onChange={e => model.setField('schedule', e.target.value)}
          />
        )}
      </label>
      {errors.schedule && (
        <div className="jp-mvdp-error">{errors.schedule}</div>
      )}
      {model.form.notify.length > 0 && (
        <div className="jp-mvdp-notify" aria-label="alerts">
          <span>alerts (the plan's notify)</span>
          <ul>
            {model.form.notify.map((channel, i) => (
              <li key={i}>
                {notifyLabel(channel)}
                {errors[`notify.${i}`] && (
                  <div className="jp-mvdp-error">{errors[`notify.${i}`]}</div>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      <details className="jp-mvdp-executor">
        <summary>Execution options</summary>
        {OPTIONS.map(([key, label]) => (
          <div key={key}>
            <label className="jp-mvdp-field">
              <span>{label}</span>
              <OptionInput model={model} name={key} choices={choices} />
            </label>
            {errors[key] && <div className="jp-mvdp-error">{errors[key]}</div>}
          </div>
        ))}
        {errors.executor && (
          <div className="jp-mvdp-error">{errors.executor}</div>
        )}
      </details>
    </section>
  );
}

type Option = (typeof OPTIONS)[number][0];

/**
 * One execution option as the target's policy allows it: a select of the allowed queues
 * or pools, CPU / memory only where a pod_override is allowed (its maximum as the hint),
 * parallelism bounded by the policy's maximum.
 */
function OptionInput(props: {
  model: PlanModel;
  name: Option;
  choices: IExecutionChoices;
}): JSX.Element {
  const { model, name, choices } = props;
  const value = model.form[name];
  const set = (v: string) => model.setField(name, v);
  const allowed =
    name === 'queue' ? choices.queues : name === 'pool' ? choices.pools : null;
  if (allowed !== null) {
    return (
      <select
        aria-label={name}
        value={value}
        onChange={e => set(e.target.value)}
      >
        <option value="">
          {allowed.length ? 'default' : 'default (only)'}
        </option>
        {optionsWith(allowed, value).map(v => (
          <option key={v} value={v}>
            {v}
          </option>
        ))}
      </select>
    );
  }
  if (name === 'cpu' || name === 'memory') {
    const max = name === 'cpu' ? choices.maxCpu : choices.maxMemory;
    return (
      <input
        aria-label={name}
        disabled={!choices.resources && !value}
        placeholder={
          !choices.resources
            ? 'not allowed on this target'
            : max
              ? `at most ${max}`
              : ''
        }
        data-max={max ?? undefined}
        value={value}
        onChange={e => set(e.target.value)}
      />
    );
  }
  if (name === 'parallelism') {
    const max = choices.maxParallelism;
    return (
      <input
        aria-label={name}
        type="number"
        min={1}
        max={max ?? undefined}
        placeholder={max ? `at most ${max}` : ''}
        value={value}
        onChange={e => set(e.target.value)}
      />
    );
  }
  return (
    <input
      aria-label={name}
      value={value}
      onChange={e => set(e.target.value)}
    />
  );
}
