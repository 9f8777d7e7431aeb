/**
 * JupyterLab notifications for runs that end while the lab watches them: success, failure,
 * and a canary alert, each with an action opening the run.
 */
import { Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';

import { IRun } from './api';
import { startedByLabel, startedElsewhere } from './history';
import { RunsModel } from './runsModel';

export function announceRuns(
  runs: RunsModel,
  openRun: (runId: string) => void,
  openHistory?: (pipeline: string) => void
): void {
  runs.finished.connect((_, run) => announce(run, openRun, openHistory));
  const said = new Set<string>();
  runs.changed.connect(() => {
    for (const warning of runs.warnings) {
      if (!said.has(warning)) {
        said.add(warning); // the run store itself: once a session, until dismissed
        Notification.warning(warning, { autoClose: false });
      }
    }
  });
}

function announce(
  run: IRun,
  openRun: (runId: string) => void,
  openHistory?: (pipeline: string) => void
): void {
  const elsewhere = startedElsewhere(run.started_by);
  // a run the lab did not start (its schedule, Airflow's UI or API) says who started it
  const notebook =
    PathExt.basename(run.notebook) +
    (elsewhere ? ` (${startedByLabel(run.started_by)})` : '');
  const actions = [{ label: 'Open run', callback: () => openRun(run.run_id) }];
  if (elsewhere && openHistory) {
    actions.push({
      label: 'History',
      callback: () => openHistory(run.pipeline)
    });
  }
  const counts = `${run.counts.success} succeeded, ${run.counts.failed} failed`;
  if (run.ab && run.reason) {
    // an A/B test: its verdict in words (and whether B was promoted)
    const say = `A/B test of ${notebook}: ${run.reason}`;
    if (run.state === 'success' && run.outcome !== 'alert') {
      Notification.success(say, { autoClose: 8000, actions });
    } else {
      Notification.warning(say, { autoClose: false, actions });
    }
  } else if (run.outcome === 'alert') {
    // an alert stays until dismissed: someone has to look at it
    Notification.warning(`Canary alert on ${notebook}: ${run.reason}`, {
      autoClose: false,
      actions
    });
  } else if (run.state === 'success') {
    Notification.success(`Run of ${notebook} finished: ${counts}`, {
      autoClose: 8000,
      actions
    });
  } else {
    Notification.error(`Run of ${notebook} ${run.state}: ${counts}`, {
      autoClose: false,
      actions
    });
  }
}
