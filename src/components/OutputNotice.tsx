/**
 * Shown instead of the plan editor for a run's output notebook: it records what ran, so it
 * is not offered for Productionize; its run and input notebook are named instead.
 */
import * as React from 'react';

import { IOutputProvenance } from '../outputs';

export function OutputNotice(props: {
  output: IOutputProvenance;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { output } = props;
  return (
    <section className="jp-mvdp-section jp-mvdp-outputNotice" role="status">
      <p>
        This is the output notebook of point <code>{output.point_id}</code> of a
        run: it records what ran and is not productionized.
        {output.input && (
          <>
            {' '}
            Productionize its input notebook, <code>{output.input}</code>,
            instead.
          </>
        )}
      </p>
      <button
        className="jp-mvdp-button"
        onClick={() => props.onOpenRun(output.run_id)}
      >
        Open its run
      </button>
    </section>
  );
}
