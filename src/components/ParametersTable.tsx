/** The notebook's parameters, each with its grid editor, and the grid's size. */
import * as React from 'react';

import { emptyAxis } from '../model';
import { PlanModel } from '../planModel';
import { AxisEditor } from './AxisEditor';

export function ParametersTable(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const errors = model.fieldErrors;
  // the points the server will run (distinct ones, as grid.py expands them); the limit is
  // the server's own, known once it validated the plan
  const size = model.built?.size ?? model.validation?.size ?? null;
  const limit = model.validation?.limit ?? null;
  const over = size !== null && limit !== null && size > limit;
  return (
    <section className="jp-mvdp-section" aria-label="Parameters and grid">
      <h3>Parameters and grid</h3>
      <ul className="jp-mvdp-grid">
        {(model.parameters ?? []).map(p => (
          <AxisEditor
            key={p.name}
            parameter={p}
            axis={model.form.axes[p.name] ?? emptyAxis()}
            error={errors[`grid.${p.name}`]}
            onChange={axis => model.setAxis(p.name, axis)}
          />
        ))}
      </ul>
      <div
        className={over ? 'jp-mvdp-size jp-mvdp-warning' : 'jp-mvdp-size'}
        aria-live="polite"
      >
        {size === null
          ? ''
          : over
            ? `${size.toLocaleString()} points: above the limit of ${limit!.toLocaleString()}`
            : `${size.toLocaleString()} point${size === 1 ? '' : 's'}`}
      </div>
      {errors.grid && <div className="jp-mvdp-error">{errors.grid}</div>}
    </section>
  );
}
