import * as React from 'react';

import { Field } from './Field';

/**
 * A labelled number input (help, unit and error from `Field`) that keeps what the user
 * typed while it is not a number yet; text that is no number is an error of its own.
 */
export function NumberField(props: {
  label: string;
  value: number | null | undefined;
  placeholder?: string;
  help?: string;
  unit?: string;
  error?: string | null;
  onChange: (v: number | undefined) => void;
}): JSX.Element {
  const [text, setText] = React.useState(props.value?.toString() ?? '');
  const notNumber =
    text.trim() !== '' && isNaN(Number(text))
      ? `${props.label} must be a number`
      : null;
  return (
    <Field
      label={props.label}
      help={props.help}
      unit={props.unit}
      error={notNumber ?? props.error}
    >
      {control => (
        <input
          {...control}
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
      )}
    </Field>
  );
}
