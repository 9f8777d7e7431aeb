/**
 * The strategy: full grid, early stopping or canary, with the metric it decides on. The
 * kinds, goals and each kind's options come from the plan schema (planRules.ts); only their
 * labels live here.
 */
import * as React from 'react';

import {
  Goal,
  GOALS,
  isNumberField,
  STRATEGY_KINDS,
  StrategyKey,
  StrategyKind,
  strategyKeys,
  strategyOption
} from '../planRules';
import { PlanModel } from '../planModel';
import { NumberField } from './NumberField';

const KIND_LABELS: Record<StrategyKind, string> = {
  grid: 'Full grid',
  early_stop: 'Early stopping',
  canary: 'Canary'
};

const GOAL_LABELS: Record<Goal, string> = { max: 'maximise', min: 'minimise' };

const PLACEHOLDERS: { [key in StrategyKey]?: string } = {
  baseline: 'last champion'
};

/** The options with an input of their own (metric and goal are drawn apart). */
const COMMON: StrategyKey[] = ['metric', 'goal'];

const label = (key: string) => key.replace(/_/g, ' ');

export function StrategyForm(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const strategy = model.form.strategy;
  const set = model.setStrategy.bind(model);
  const keys = strategyKeys(strategy.kind);
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
          {STRATEGY_KINDS.map(kind => (
            <option key={kind} value={kind}>
              {KIND_LABELS[kind]}
            </option>
          ))}
        </select>
      </label>
      {keys.includes('metric') && (
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
      )}
      {keys.includes('goal') && (
        <label className="jp-mvdp-field">
          <span>goal</span>
          <select
            aria-label="goal"
            value={strategy.goal ?? GOALS[0]}
            onChange={e => set('goal', e.target.value)}
          >
            {GOALS.map(goal => (
              <option key={goal} value={goal}>
                {GOAL_LABELS[goal]}
              </option>
            ))}
          </select>
        </label>
      )}
      {keys
        .filter(key => !COMMON.includes(key))
        .map(key =>
          isNumberField(strategyOption(strategy.kind, key)) ? (
            <NumberField
              key={`${strategy.kind}.${key}`}
              label={label(key)}
              placeholder={PLACEHOLDERS[key]}
              value={strategy[key] as number | null | undefined}
              onChange={v => set(key, v)}
            />
          ) : (
            <label key={`${strategy.kind}.${key}`} className="jp-mvdp-field">
              <span>{label(key)}</span>
              <input
                aria-label={label(key)}
                placeholder={PLACEHOLDERS[key]}
                value={(strategy[key] as string | null | undefined) ?? ''}
                onChange={e => set(key, e.target.value || undefined)}
              />
            </label>
          )
        )}
      {errors.map(([field, message]) => (
        <div key={field} className="jp-mvdp-error">
          {message}
        </div>
      ))}
    </section>
  );
}
