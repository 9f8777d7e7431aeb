/**
 * A pipeline over time in the main area: where it is deployed (its schedule), its champion,
 * every run newest first whoever started it (the schedule, Airflow's UI or API, the lab)
 * with its outcome and best point, and every change of champion. Reloaded when one of its
 * runs changes state.
 */
import * as React from 'react';

import { api, IHistory } from '../api';
import { StateBadge } from '../components/StateBadge';
import { championPeriods, startedByLabel, when } from '../history';
import { RunsModel } from '../runsModel';
import { formatValue } from '../results';

export function HistoryView(props: {
  pipeline: string;
  runs: RunsModel;
  onOpenRun: (runId: string) => void;
}): JSX.Element {
  const { pipeline, runs } = props;
  const [history, setHistory] = React.useState<IHistory | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const seen = React.useRef('');
  React.useEffect(() => {
    const load = () =>
      api
        .history(pipeline)
        .then(found => {
          setHistory(found);
          setError(null);
        })
        .catch(e => setError(String(e.message ?? e)));
    const onChange = () => {
      const now = runs.runs
        .filter(r => r.pipeline === pipeline)
        .map(r => `${r.run_id}:${r.state}:${r.outcome}`)
        .join(' ');
      if (now !== seen.current) {
        seen.current = now;
        void load();
      }
    };
    onChange();
    runs.changed.connect(onChange);
    return () => {
      runs.changed.disconnect(onChange);
    };
  }, [pipeline]);
  if (!history) {
    return (
      <div className="jp-mvdp-historyView jp-mvdp-muted">
        {error ?? 'Loading the history…'}
      </div>
    );
  }
  const champion = history.champion;
  return (
    <div className="jp-mvdp-historyView" data-pipeline={pipeline}>
      <header className="jp-mvdp-runHeader">
        <h2>{pipeline}</h2>
        {history.deployed.map(d => (
          <span key={d.target} className="jp-mvdp-muted">
            {d.notebook} on {d.target} ·{' '}
            {d.schedule ? `schedule ${d.schedule}` : 'no schedule'} · deployed{' '}
            {when(d.deployed)}
          </span>
        ))}
      </header>
      <p className="jp-mvdp-champion" role="status">
        {champion
          ? `Champion: ${champion.metric} ${formatValue(champion.value)} since ${when(
              champion.at
            )} (run ${champion.run_id})`
          : 'No champion yet.'}
      </p>
      <table className="jp-mvdp-history" aria-label="Runs">
        <thead>
          <tr>
            <th>Started</th>
            <th>By</th>
            <th>State</th>
            <th>Outcome</th>
            <th>Best</th>
            <th title="this run made a champion">Champion</th>
            <th>Why</th>
          </tr>
        </thead>
        <tbody>
          {history.runs.map(r => (
            <tr
              key={r.run_id}
              data-run={r.run_id}
              title={`Open run ${r.run_id}`}
              onClick={() => props.onOpenRun(r.run_id)}
            >
              <td>{when(r.created)}</td>
              <td>{startedByLabel(r.started_by)}</td>
              <td>
                <StateBadge state={r.state} />
              </td>
              <td
                className={r.outcome === 'alert' ? 'jp-mvdp-historyAlert' : ''}
              >
                {r.outcome ?? ''}
              </td>
              <td>
                {r.best
                  ? `${r.metric} ${formatValue(r.best.value)} (${r.best.id})`
                  : ''}
              </td>
              <td>{r.crowned ? '★' : ''}</td>
              <td>{r.reason ?? r.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {history.champions.length > 0 && (
        <details open className="jp-mvdp-champions">
          <summary>Champions</summary>
          <table aria-label="Champions">
            <thead>
              <tr>
                <th>From</th>
                <th>Until</th>
                <th>Metric</th>
                <th>Run</th>
                <th>Point</th>
              </tr>
            </thead>
            <tbody>
              {championPeriods(history.champions).map(c => (
                <tr key={`${c.run_id}-${c.at}`}>
                  <td>{when(c.at)}</td>
                  <td>{c.until ? when(c.until) : 'now'}</td>
                  <td>
                    {c.metric} {formatValue(c.value)}
                  </td>
                  <td>{c.run_id}</td>
                  <td>{c.point_id ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
