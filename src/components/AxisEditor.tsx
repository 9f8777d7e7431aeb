/**
 * One parameter of the grid: its name, type and default on one line, its editor below
 * (the notebook's default, a list of values, or a range), so it reads at any panel width.
 */
import * as React from 'react';

import { IParameter } from '../api';
import { IAxisEditor } from '../model';

export function AxisEditor(props: {
  parameter: IParameter;
  axis: IAxisEditor;
  error?: string;
  onChange: (axis: IAxisEditor) => void;
}): JSX.Element {
  const { parameter: p, axis } = props;
  const set = (patch: Partial<IAxisEditor>) =>
    props.onChange({ ...axis, ...patch });
  const numeric = p.type === 'int' || p.type === 'float';
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

function BoolValues(props: {
  name: string;
  text: string;
  onChange: (patch: Partial<IAxisEditor>) => void;
}): JSX.Element {
  const chosen = props.text
    .split(',')
    .map(s => s.trim())
    .filter(Boolean);
  return (
    <span className="jp-mvdp-bools">
      {['true', 'false'].map(b => (
        <label key={b}>
          <input
            type="checkbox"
            aria-label={`${props.name} ${b}`}
            checked={chosen.includes(b)}
            onChange={e => {
              const next = new Set(chosen);
              if (e.target.checked) {
                next.add(b);
              } else {
                next.delete(b);
              }
              props.onChange({ text: [...next].join(', ') });
            }}
          />
          {b}
        </label>
      ))}
    </span>
  );
}

function RangeEditor(props: {
  name: string;
  axis: IAxisEditor;
  onChange: (patch: Partial<IAxisEditor>) => void;
}): JSX.Element {
  const { name, axis, onChange: set } = props;
  const input = (key: 'start' | 'stop' | 'step' | 'num', label: string) => (
    <input
      aria-label={`${name} ${label}`}
      placeholder={label}
      value={axis[key]}
      onChange={e => set({ [key]: e.target.value })}
    />
  );
  return (
    <div className="jp-mvdp-range">
      {input('start', 'start')}
      {input('stop', 'stop')}
      <select
        aria-label={`${name} range kind`}
        value={axis.rangeKind}
        onChange={e => set({ rangeKind: e.target.value as 'step' | 'num' })}
      >
        <option value="step">step</option>
        <option value="num">count</option>
      </select>
      {axis.rangeKind === 'step'
        ? input('step', 'step')
        : input('num', 'count')}
      {axis.rangeKind === 'num' && (
        <label className="jp-mvdp-log">
          <input
            type="checkbox"
            aria-label={`${name} log`}
            checked={axis.log}
            onChange={e => set({ log: e.target.checked })}
          />
          log
        </label>
      )}
    </div>
  );
}
