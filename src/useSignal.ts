import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** Re-render a component whenever a model's signal fires. */
export function useSignal(signal: ISignal<any, any>): void {
  const [, bump] = React.useState(0);
  React.useEffect(() => {
    const changed = () => bump(n => n + 1);
    signal.connect(changed);
    return () => {
      signal.disconnect(changed);
    };
  }, [signal]);
}
