/**
 * One labelled form field with a line of help, its unit and its error, for every editor of
 * the panel (strategy fields, and the fields new strategies add). The error shows once the
 * user touched the field (typed in it or left it) or asked to Productionize (the
 * `RevealErrors` context), never on a blank form; an invalid control carries
 * `aria-invalid` and is described by its help and error.
 */
import * as React from 'react';

import { unitText } from '../fieldHelp';

/** True once Productionize was asked for: every field shows its error, touched or not. */
export const RevealErrors = React.createContext(false);

/** The attributes a field's control spreads: its id and its accessible state. */
export interface IControlProps {
  id: string;
  'aria-invalid'?: true;
  'aria-describedby'?: string;
}

let counter = 0;

/** A DOM id unique in the page, stable for the component's life. */
export function useFieldId(prefix = 'jp-mvdp-field'): string {
  const ref = React.useRef<string>();
  if (!ref.current) {
    ref.current = `${prefix}-${++counter}`;
  }
  return ref.current;
}

export function Field(props: {
  label: string;
  help?: string;
  unit?: string;
  /** The field's current error (shown once touched or revealed). */
  error?: string | null;
  /** Show the error at once (e.g. the field was restored from a saved plan). */
  touched?: boolean;
  className?: string;
  children: (control: IControlProps) => React.ReactNode;
}): JSX.Element {
  const id = useFieldId();
  const [touched, setTouched] = React.useState(!!props.touched);
  const reveal = React.useContext(RevealErrors);
  const shown = !!props.error && (touched || reveal);
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const described = [
    props.help || props.unit ? helpId : '',
    shown ? errorId : ''
  ].filter(Boolean);
  const control: IControlProps = {
    id,
    ...(described.length ? { 'aria-describedby': described.join(' ') } : {}),
    ...(shown ? { 'aria-invalid': true as const } : {})
  };
  const touch = () => setTouched(true);
  return (
    <div
      className={`jp-mvdp-fieldBox ${props.className ?? ''}`}
      onBlur={touch}
      onChange={touch}
    >
      <div className="jp-mvdp-field">
        <label htmlFor={id}>{props.label}</label>
        {props.children(control)}
      </div>
      {(props.help || props.unit) && (
        <div className="jp-mvdp-help" id={helpId}>
          {props.help}
          {props.unit && (
            <span className="jp-mvdp-unit"> {unitText(props.unit)}</span>
          )}
        </div>
      )}
      {shown && (
        <div className="jp-mvdp-error jp-mvdp-fieldError" id={errorId}>
          {props.error}
        </div>
      )}
    </div>
  );
}
