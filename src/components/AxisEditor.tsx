/**
 * One parameter of the grid: its name, type and default on one line, its editor below
 * (the notebook's default, a list of values, or a range), so it reads at any panel width.
 */
import * as React from 'react';

import { IParameter } from '../api';
import { IAxisEditor } from '../model';
import { isNumericType } from '../values';
import { BoolValues } from './BoolValues';
import { RangeEditor } from './RangeEditor';

export function AxisEditor(props: {
  parameter: IParameter;
  axis: IAxisEditor;
  error?: string;
  onChange: (axis: IAxisEditor) => void;
}): JSX.Element {
  const { parameter: p, axis } = props;
  const set = (patch: Partial<IAxisEditor>) =>
    props.onChange({ ...axis, ...patch });
  const numeric = isNumericType(p.type);
  return (
    <li className="jp-mvdp-axis" data-parameter={p.name}>
      <div className="jp-mvdp-axisHeader" title={p.help}>
        <strong className="jp-mvdp-axisName">{p.name}</strong>
        <code className="jp-mvdp-axisType">{p.type}</code>
        <code className="jp-mvdp-axisDefault" title={`default: ${p.default}`}>
          = {p.default}
        </code>
      </div>
      {p.help && <div className="jp-mvdp-muted">{p.help}</div>}
      <div className="jp-mvdp-axisEditor">
        <select
          aria-label={`${p.name} mode`}
          value={axis.mode}
          onChange={e => set({ mode: e.target.value as IAxisEditor['mode'] })}
        >
          <option value="default">default</option>
          <option value="values">values</option>
          {numeric && <option value="range">range</option>}
        </select>
        {axis.mode === 'values' && p.type === 'bool' && (
          <BoolValues name={p.name} text={axis.text} onChange={set} />
        )}
        {axis.mode === 'values' && p.type !== 'bool' && (
          <input
            aria-label={`${p.name} values`}
            className="jp-mvdp-values"
            placeholder={p.type === 'str' ? 'gini, entropy' : '10, 50, 100'}
            value={axis.text}
            onChange={e => set({ text: e.target.value })}
          />
        )}
      </div>
      {axis.mode === 'range' && (
        <RangeEditor name={p.name} axis={axis} onChange={set} />
      )}
      {props.error && (
        <div className="jp-mvdp-error jp-mvdp-fieldError" role="alert">
          {props.error}
        </div>
      )}
    </li>
  );
}
