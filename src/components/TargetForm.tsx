/** Where and how the plan runs: the target, a schedule, execution options, Productionize. */
import * as React from 'react';

import { PlanModel } from '../planModel';

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

export function TargetForm(props: {
  model: PlanModel;
  onSubmitted: (runId: string) => void;
}): JSX.Element {
  const { model } = props;
  const errors = model.fieldErrors;
  const chosen = model.targets.find(t => t.name === model.target);
  const submit = async () => {
    const runId = await model.productionize();
    if (runId) {
      props.onSubmitted(runId);
    }
  };
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
        <input
          aria-label="schedule"
          placeholder="on demand, @daily, a cron"
          value={model.form.schedule}
          onChange={e => model.setField('schedule', e.target.value)}
        />
      </label>
      <details className="jp-mvdp-executor">
        <summary>Execution options</summary>
        {OPTIONS.map(([key, label]) => (
          <div key={key}>
            <label className="jp-mvdp-field">
              <span>{label}</span>
              <input
                aria-label={key}
                value={model.form[key]}
                onChange={e => model.setField(key, e.target.value)}
              />
            </label>
            {errors[key] && <div className="jp-mvdp-error">{errors[key]}</div>}
          </div>
        ))}
      </details>
      <button
        className="jp-mvdp-button jp-mvdp-productionize"
        disabled={!model.valid || model.busy}
        onClick={submit}
      >
        {model.busy ? 'Productionizing…' : 'Productionize'}
      </button>
      {model.submitError && (
        <div className="jp-mvdp-error jp-mvdp-submitError" role="alert">
          {model.submitError}
        </div>
      )}
    </section>
  );
}
