import * as React from 'react';

/** A run's or point's state as a coloured badge. */
export function StateBadge(props: { state: string }): JSX.Element {
  return (
    <span className={`jp-mvdp-state jp-mvdp-state-${props.state}`}>
      {props.state}
    </span>
  );
}
