/** The Airflow DAG generated for a run, read only. */
import * as React from 'react';

import { api } from '../api';
import { errorText } from '../planModel';

export function DagView(props: { runId: string }): JSX.Element {
  const [source, setSource] = React.useState<string | null>(null);
  React.useEffect(() => {
    let live = true;
    api
      .dag(props.runId)
      .then(s => live && setSource(s || '(no DAG for this run)'))
      .catch(
        e => live && setSource(`The DAG is not available: ${errorText(e)}`)
      );
    return () => {
      live = false;
    };
  }, [props.runId]);
  return (
    <pre
      className="jp-mvdp-dagSource"
      aria-label="generated Airflow DAG, read only"
    >
      {source ?? 'Loading…'}
    </pre>
  );
}
