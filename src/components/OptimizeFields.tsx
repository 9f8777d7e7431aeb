/**
 * The optimize strategy's own fields in the strategy form: Optuna's sampler as a choice
 * (the schema's enum), and what the search space is: the grid's ranges are searched, its
 * lists are choices, its single values stay fixed (core/optimize.py decides; the budget,
 * stop-at and seed are the form's generic fields).
 */
import * as React from 'react';

import { strategyFieldHelp } from '../fieldHelp';
import { StrategyKey, strategyOption } from '../planRules';
import { PlanModel } from '../planModel';
import { Field } from './Field';

/** The strategy keys this component edits (the generic fields leave them out). */
export const OPTIMIZE_OWN_KEYS: StrategyKey[] = ['sampler'];

export function OptimizeFields(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const strategy = model.form.strategy as { sampler?: string };
  const samplers = (strategyOption('optimize', 'sampler').enum ??
    []) as string[];
  const help = strategyFieldHelp('optimize', 'sampler');
  return (
    <>
      <Field
        label={help.label}
        help={help.help}
        error={model.fieldErrors['strategy.sampler']}
      >
        {control => (
          <select
            {...control}
            aria-label={help.label}
            value={strategy.sampler ?? samplers[0]}
            onChange={e => model.setStrategy('sampler', e.target.value)}
          >
            {samplers.map(s => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        )}
      </Field>
      <div className="jp-mvdp-muted jp-mvdp-optimizeNote">
        The grid is the search space: a range is searched (log where the range
        is log), a list is a choice, a single value stays fixed.
      </div>
    </>
  );
}
