/** The notebook's parameters, each with its grid editor (the grid's size: ActionBar.tsx). */
import * as React from 'react';

import { emptyAxis } from '../model';
import { PlanModel } from '../planModel';
import { AxisEditor } from './AxisEditor';

export function ParametersTable(props: { model: PlanModel }): JSX.Element {
  const { model } = props;
  const errors = model.fieldErrors;
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
      {errors.grid && <div className="jp-mvdp-error">{errors.grid}</div>}
    </section>
  );
}
