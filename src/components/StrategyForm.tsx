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
  strategyOption,
  strategyRequired
} from '../planRules';
import { strategyFieldHelp } from '../fieldHelp';
import { PlanModel } from '../planModel';
import { AB_OWN_KEYS, AbFields } from './AbFields';
import { Field } from './Field';
import { MetricField } from './MetricField';
import { NumberField } from './NumberField';
import { OPTIMIZE_OWN_KEYS, OptimizeFields } from './OptimizeFields';

// a kind without a label here (a strategy just added to the schema) shows its key
const KIND_LABELS: Partial<Record<StrategyKind, string>> = {
  grid: 'Full grid',
  early_stop: 'Early stopping',
  canary: 'Canary',
  ab: 'A/B test',
  optimize: 'Bayesian optimization'
};

const GOAL_LABELS: Record<Goal, string> = { max: 'maximise', min: 'minimise' };

const PLACEHOLDERS: { [key in StrategyKey]?: string } = {
  baseline: 'last champion'
};

/** The options with an input of their own (metric and goal are drawn apart). */
const COMMON: StrategyKey[] = ['metric', 'goal'];

export function StrategyForm(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const strategy = model.form.strategy;
  const set = model.setStrategy.bind(model);
  const keys = strategyKeys(strategy.kind);
  const fieldErrors = model.fieldErrors;
  const inline = (key: string) => fieldErrors[`strategy.${key}`];
  // errors of a field are shown by it; the others (the strategy as a whole) below
  const errors = Object.entries(fieldErrors).filter(
    ([field]) =>
      (field.startsWith('strategy') &&
        !keys.includes(
          field.slice('strategy.'.length).split('.')[0] as StrategyKey
        )) ||
      field === 'plan' ||
      !field
  );
  const required = strategyRequired(strategy.kind);
  const help = (key: StrategyKey) =>
    strategyFieldHelp(strategy.kind, key, strategy.metric);
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
              {KIND_LABELS[kind] ?? kind}
            </option>
          ))}
        </select>
      </label>
      {keys.includes('metric') && (
        <MetricField
          kind={strategy.kind}
          value={strategy.metric ?? undefined}
          known={model.metrics}
          required={required.includes('metric')}
          error={inline('metric')}
          onChange={v => set('metric', v)}
        />
      )}
      {keys.includes('goal') && (
        <Field label="goal" help={help('goal').help}>
          {control => (
            <select
              {...control}
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
          )}
        </Field>
      )}
      {keys
        .filter(
          key =>
            !COMMON.includes(key) &&
            !AB_OWN_KEYS.includes(key) &&
            !OPTIMIZE_OWN_KEYS.includes(key)
        )
        .map(key =>
          isNumberField(strategyOption(strategy.kind, key)) ? (
            <NumberField
              key={`${strategy.kind}.${key}`}
              label={help(key).label}
              help={help(key).help}
              unit={help(key).unit}
              error={inline(key)}
              placeholder={PLACEHOLDERS[key]}
              value={strategy[key] as number | null | undefined}
              onChange={v => set(key, v)}
            />
          ) : (
            <Field
              key={`${strategy.kind}.${key}`}
              label={help(key).label}
              help={help(key).help}
              unit={help(key).unit}
              error={inline(key)}
            >
              {control => (
                <input
                  {...control}
                  aria-label={help(key).label}
                  placeholder={PLACEHOLDERS[key]}
                  value={(strategy[key] as string | null | undefined) ?? ''}
                  onChange={e => set(key, e.target.value || undefined)}
                />
              )}
            </Field>
          )
        )}
      {strategy.kind === 'ab' && <AbFields model={model} />}
      {strategy.kind === 'optimize' && <OptimizeFields model={model} />}
      {errors.map(([field, message]) => (
        <div key={field} className="jp-mvdp-error">
          {message}
        </div>
      ))}
    </section>
  );
}
