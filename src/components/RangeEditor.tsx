/** A numeric range: start, stop, and a step or a count of values (log spaced if asked). */
import * as React from 'react';

import { IAxisEditor } from '../model';

export function RangeEditor(props: {
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
