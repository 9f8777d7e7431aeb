/**
 * A run in the main area: header (state, counts, elapsed), canary outcome, the leaderboard,
 * the plot and the generated DAG.
 */
import * as React from 'react';

import { api } from '../api';
import { startedByLabel, startedElsewhere } from '../history';
import { POINT_STATES } from '../results';
import {
  durationText,
  runBadge,
  runWarnings,
  shortRunId,
  startText,
  unrankedReason
} from '../runLabels';
import { IRunViewOptions } from '../tokens';
import { useSignal } from '../useSignal';
import { DagView } from '../components/DagView';
import { StateBadge } from '../components/StateBadge';
import { AbVerdict } from './AbVerdict';
import { OptimizeHistory } from './OptimizeHistory';
import { Leaderboard } from './Leaderboard';
import { Plot } from './Plot';

export function RunView(
  props: IRunViewOptions & { runId: string }
): JSX.Element {
  useSignal(props.runs.changed);
  const run = props.runs.get(props.runId);
  const [missing, setMissing] = React.useState<string | null>(null);
  const active =
    run?.state === 'queued' ||
    run?.state === 'running' ||
    run?.state === 'unknown' ||
    run?.state === 'orphaned';
  const [now, setNow] = React.useState(Date.now() / 1000);
  React.useEffect(() => {
    if (!run) {
      props.runs.fetch(props.runId).catch(e => setMissing(String(e.message)));
    }
  }, [props.runId]);
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [active]);
  if (!run) {
    return (
      <div className="jp-mvdp-runView jp-mvdp-muted">
        {missing ?? 'Loading the run…'}
      </div>
    );
  }
  const elapsed = Math.max(0, (run.finished ?? now) - run.created);
  return (
    <div className="jp-mvdp-runView" data-run={run.run_id}>
      <header className="jp-mvdp-runHeader">
        <h2>{run.notebook}</h2>
        <StateBadge state={runBadge(run)} />
        <span className="jp-mvdp-elapsed" title="duration">
          {durationText(elapsed)}
        </span>
        <span className="jp-mvdp-counts" aria-label="point states">
          {POINT_STATES.map(s => (
            <span
              key={s}
              className={`jp-mvdp-count jp-mvdp-state-${s}`}
              title={s}
            >
              {s} {run.counts[s]}
            </span>
          ))}
        </span>
        <span className="jp-mvdp-muted">
          {run.strategy.kind}
          {run.strategy.metric
            ? ` · ${run.strategy.goal ?? 'max'} ${run.strategy.metric}`
            : ''}{' '}
          · {run.target} · started {startText(run.created)} ·{' '}
          <span title={run.run_id}>{shortRunId(run.run_id)}</span>
        </span>
        {startedElsewhere(run.started_by) && (
          <span className="jp-mvdp-startedBy">
            started by {startedByLabel(run.started_by)}
          </span>
        )}
        {props.onOpenHistory && (
          <button
            className="jp-mvdp-button"
            title={`Every run of ${run.pipeline} and its champions`}
            onClick={() => props.onOpenHistory?.(run.pipeline)}
          >
            History
          </button>
        )}
        {active && (
          <button
            className="jp-mvdp-button"
            onClick={() => api.cancel(run.run_id).catch(() => undefined)}
          >
            Cancel
          </button>
        )}
      </header>
      {unrankedReason(run) && (
        <div className="jp-mvdp-unranked" role="note">
          {unrankedReason(run)}
        </div>
      )}
      {runWarnings(run).map(w => (
        <div key={w} className="jp-mvdp-warning" role="status">
          {w}
        </div>
      ))}
      {run.progress && active && (
        <div className="jp-mvdp-muted">{run.progress}</div>
      )}
      {run.message && run.unreachable_since ? (
        <div className="jp-mvdp-warning" role="status">
          ⚠ {run.message}
        </div>
      ) : (
        run.message && (
          <div className="jp-mvdp-error" role="alert">
            {run.message}
          </div>
        )
      )}
      {run.outcome && (
        <div
          className={`jp-mvdp-outcome jp-mvdp-outcome-${run.outcome}`}
          role="status"
        >
          {run.outcome === 'deploy' ? 'Deployed: ' : 'Alert, not deployed: '}
          {run.reason}
        </div>
      )}
      {!run.outcome && run.reason && !run.ab && (
        <div className="jp-mvdp-muted">Stopped: {run.reason}</div>
      )}
      <AbVerdict run={run} rendermime={props.rendermime} />
      <OptimizeHistory run={run} rendermime={props.rendermime} />
      <div className="jp-mvdp-results">
        <Leaderboard
          run={run}
          onOpenOutput={props.onOpenOutput}
          onCompare={props.onCompare}
        />
        <Plot run={run} rendermime={props.rendermime} />
      </div>
      <details className="jp-mvdp-dag">
        <summary>Generated DAG</summary>
        <DagView runId={run.run_id} />
      </details>
    </div>
  );
}
