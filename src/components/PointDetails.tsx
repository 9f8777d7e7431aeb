/** One point in place: its parameters, error, output notebook and the worker's log. */
import * as React from 'react';

import { api, IPoint, IRun } from '../api';
import { errorText } from '../planModel';

export function PointDetails(props: {
  run: IRun;
  point: IPoint;
  onOpenOutput: (path: string) => void;
}): JSX.Element {
  const { run, point } = props;
  const [log, setLog] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(false);
  const showLog = async () => {
    setLoading(true);
    try {
      setLog((await api.log(run.run_id, point.id)) || '(empty log)');
    } catch (e) {
      setLog(`The log is not available: ${errorText(e)}`);
    } finally {
      setLoading(false);
    }
  };
  return (
    <div className="jp-mvdp-pointDetails" aria-label={`point ${point.id}`}>
      <div className="jp-mvdp-muted">
        {point.id}:{' '}
        {Object.entries(point.parameters)
          .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
          .join(', ')}
      </div>
      {point.error && (
        <pre className="jp-mvdp-pointError" role="alert">
          {point.error}
        </pre>
      )}
      <div className="jp-mvdp-actions">
        {point.output && (
          <button
            className="jp-mvdp-button"
            onClick={() => props.onOpenOutput(point.output!)}
          >
            Open output notebook
          </button>
        )}
        {point.state !== 'queued' && point.state !== 'skipped' && (
          <button
            className="jp-mvdp-button jp-mvdp-showLog"
            disabled={loading}
            onClick={showLog}
          >
            {loading ? 'Loading…' : log === null ? 'Show log' : 'Reload log'}
          </button>
        )}
      </div>
      {log !== null && (
        <pre className="jp-mvdp-log" aria-label="worker log">
          {log}
        </pre>
      )}
    </div>
  );
}
