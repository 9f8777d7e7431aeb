/** The strategy: full grid, early stopping or canary, with the metric it decides on. */
import * as React from 'react';

import { StrategyKind } from '../api';
import { PlanModel } from '../planModel';
import { NumberField } from './NumberField';

export function StrategyForm(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const strategy = model.form.strategy;
  const set = model.setStrategy.bind(model);
  const errors = Object.entries(model.fieldErrors).filter(
    ([field]) => field.startsWith('strategy') || field === 'plan' || !field
  );
  return (
    <section className="jp-mvdp-section" aria-label="Strategy">
      <h3>Strategy</h3>
      <label className="jp-mvdp-field">
        <span>strategy</span>
        <select
          aria-label="strategy"
          value={strategy.kind}
          onChange={e => set('kind', e.target.value as StrategyKind)}
        >
          <option value="grid">Full grid</option>
          <option value="early_stop">Early stopping</option>
          <option value="canary">Canary</option>
        </select>
      </label>
      <label className="jp-mvdp-field">
        <span>metric</span>
        <input
          aria-label="metric"
          list="jp-mvdp-metrics"
          value={strategy.metric ?? ''}
          placeholder={model.metrics[0] ?? 'accuracy'}
          onChange={e => set('metric', e.target.value)}
        />
        <datalist id="jp-mvdp-metrics">
          {model.metrics.map(m => (
            <option key={m} value={m} />
          ))}
        </datalist>
      </label>
      <label className="jp-mvdp-field">
        <span>goal</span>
        <select
          aria-label="goal"
          value={strategy.goal ?? 'max'}
          onChange={e => set('goal', e.target.value)}
        >
          <option value="max">maximise</option>
          <option value="min">minimise</option>
        </select>
      </label>
      {strategy.kind === 'early_stop' && (
        <>
          <NumberField
            label="target"
            value={strategy.target}
            onChange={v => set('target', v)}
          />
          <NumberField
            label="budget"
            value={strategy.budget}
            onChange={v => set('budget', v)}
          />
          <NumberField
            label="seed"
            value={strategy.seed}
            onChange={v => set('seed', v)}
          />
        </>
      )}
      {strategy.kind === 'canary' && (
        <>
          <NumberField
            label="baseline"
            placeholder="last champion"
            value={strategy.baseline}
            onChange={v => set('baseline', v)}
          />
          <NumberField
            label="tolerance"
            value={strategy.tolerance}
            onChange={v => set('tolerance', v)}
          />
          <label className="jp-mvdp-field">
            <span>deploy notebook</span>
            <input
              aria-label="deploy notebook"
              value={strategy.deploy_notebook ?? ''}
              onChange={e =>
                set('deploy_notebook', e.target.value || undefined)
              }
            />
          </label>
        </>
      )}
      {errors.map(([field, message]) => (
        <div key={field} className="jp-mvdp-error">
          {message}
        </div>
      ))}
    </section>
  );
}
