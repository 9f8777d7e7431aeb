/** The user's runs in the sidebar; a click opens the run in the main area. */
import * as React from 'react';

import { startedByLabel, startedElsewhere } from '../history';
import { runBadge, runDuration, shortRunId, startText } from '../runLabels';
import { pointCount } from '../results';
import { RunsModel } from '../runsModel';
import { useSignal } from '../useSignal';
import { StateBadge } from './StateBadge';

export function RunsList(props: {
  runs: RunsModel;
  onOpen: (runId: string) => void;
}): JSX.Element {
  useSignal(props.runs.changed);
  const runs = props.runs.runs;
  return (
    <section className="jp-mvdp-section" aria-label="Runs">
      <h3>Runs</h3>
      {runs.length === 0 && <p className="jp-mvdp-muted">No runs yet.</p>}
      <ul className="jp-mvdp-runs">
        {runs.map(r => (
          <li key={r.run_id} className="jp-mvdp-run" data-run={r.run_id}>
            <button
              title={`Open run ${r.run_id}`}
              onClick={() => props.onOpen(r.run_id)}
            >
              <StateBadge state={runBadge(r)} />
              <span className="jp-mvdp-runNotebook">{r.notebook}</span>
              <span className="jp-mvdp-muted">
                {r.strategy.kind} · {startText(r.created)} ·{' '}
                {shortRunId(r.run_id)} · {runDuration(r)} · {r.target} ·{' '}
                {r.counts.success}/{pointCount(r)}
                {startedElsewhere(r.started_by) &&
                  ` · ${startedByLabel(r.started_by)}`}
              </span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
