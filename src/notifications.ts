/**
 * JupyterLab notifications for runs that end while the lab watches them: success, failure,
 * and a canary alert, each with an action opening the run.
 */
import { Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';

import { IRun } from './api';
import { RunsModel } from './runsModel';

export function announceRuns(
  runs: RunsModel,
  openRun: (runId: string) => void
): void {
  runs.finished.connect((_, run) => announce(run, openRun));
}

function announce(run: IRun, openRun: (runId: string) => void): void {
  const notebook = PathExt.basename(run.notebook);
  const actions = [{ label: 'Open run', callback: () => openRun(run.run_id) }];
  const counts = `${run.counts.success} succeeded, ${run.counts.failed} failed`;
  if (run.outcome === 'alert') {
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
