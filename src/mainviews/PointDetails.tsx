/** One point in place: its parameters, error, output notebook and the worker's log. */
import * as React from 'react';

import { api, IPoint, IRun } from '../api';
import { LogView } from '../components/LogView';
import { errorText } from '../planModel';
import { compareChoices, triesLines } from '../results';

export function PointDetails(props: {
  run: IRun;
  point: IPoint;
  onOpenOutput: (path: string) => void;
  onCompare: (base: string, remote: string) => void;
}): JSX.Element {
  const { run, point } = props;
  const best = run.best?.output && run.best.id !== point.id ? run.best : null;
  const tries = triesLines(point);
  const others = point.output ? compareChoices(run, point) : [];
  const [other, setOther] = React.useState('');
  const compareWith = others.find(o => o.id === other);
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
      {tries.length > 0 && (
        <ol className="jp-mvdp-tries" aria-label="tries">
          {tries.map(line => (
            <li key={line}>{line}</li>
          ))}
        </ol>
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
        {point.output && best && (
          <button
            className="jp-mvdp-button jp-mvdp-compareBest"
            title={`nbdime diff of ${best.output} and ${point.output}`}
            onClick={() => props.onCompare(best.output!, point.output!)}
          >
            Compare with the best
          </button>
        )}
        {others.length > 0 && (
          <span className="jp-mvdp-compareWith">
            <select
              aria-label="compare with"
              value={other}
              onChange={e => setOther(e.target.value)}
            >
              <option value="">compare with…</option>
              {others.map(o => (
                <option key={o.id} value={o.id}>
                  {o.label}
                </option>
              ))}
            </select>
            <button
              className="jp-mvdp-button"
              disabled={!compareWith}
              title={
                compareWith
                  ? `nbdime diff of ${point.output} and ${compareWith.output}`
                  : 'choose a point to compare this one with'
              }
              onClick={() =>
                compareWith &&
                props.onCompare(point.output!, compareWith.output)
              }
            >
              Compare
            </button>
          </span>
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
      {log !== null && <LogView text={log} label="worker log" />}
    </div>
  );
}
