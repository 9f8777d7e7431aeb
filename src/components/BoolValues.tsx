/** The values of a bool parameter: a checkbox for true, one for false. */
import * as React from 'react';

import { IAxisEditor } from '../model';

export function BoolValues(props: {
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
