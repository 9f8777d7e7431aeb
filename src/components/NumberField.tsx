import * as React from 'react';

/** A labelled number input that keeps what the user typed while it is not a number yet. */
export function NumberField(props: {
  label: string;
  value: number | null | undefined;
  placeholder?: string;
  onChange: (v: number | undefined) => void;
}): JSX.Element {
  const [text, setText] = React.useState(props.value?.toString() ?? '');
  return (
    <label className="jp-mvdp-field">
      <span>{props.label}</span>
      <input
        aria-label={props.label}
        inputMode="decimal"
        placeholder={props.placeholder}
        value={text}
        onChange={e => {
          setText(e.target.value);
          const n = Number(e.target.value);
          props.onChange(
            e.target.value.trim() === '' || isNaN(n) ? undefined : n
          );
        }}
      />
    </label>
  );
}
