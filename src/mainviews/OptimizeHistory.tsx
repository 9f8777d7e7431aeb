/**
 * An optimize run in the run view: the optimization history (the metric of each point in
 * the order it ran and the best so far) and, once the run is over and enough points ran,
 * Optuna's parameter importance. All figures are the server's (the run's `optimize`).
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import * as React from 'react';

import { IRun } from '../api';
import {
  bestWords,
  historyRows,
  historySpec,
  importanceSpec
} from '../optimizeView';
import { themedSpec, useThemeColors } from '../plotTheme';
import { VegaLite } from './VegaLite';

export function OptimizeHistory(props: {
  run: IRun;
  rendermime: IRenderMimeRegistry;
}): JSX.Element | null {
  const { run } = props;
  const colors = useThemeColors();
  const optimize = run.optimize;
  if (!optimize) {
    return null;
  }
  const metric = run.strategy.metric ?? '';
  const goal = run.strategy.goal ?? 'max';
  const budget = (run.strategy as { budget?: number }).budget;
  const rows = historyRows(optimize);
  return (
    <section className="jp-mvdp-optimize" aria-label="Optimization history">
      <div className="jp-mvdp-muted" role="status">
        {bestWords(optimize, metric, budget)}
      </div>
      {rows.length > 0 && (
        <VegaLite
          rendermime={props.rendermime}
          spec={themedSpec(historySpec(rows, metric, goal), colors)}
        />
      )}
      {optimize.importance ? (
        <VegaLite
          rendermime={props.rendermime}
          spec={themedSpec(importanceSpec(optimize.importance), colors)}
        />
      ) : (
        run.state !== 'running' &&
        run.state !== 'queued' && (
          <div className="jp-mvdp-muted">
            Parameter importance needs at least 8 points with {metric} and two
            searched parameters.
          </div>
        )
      )}
    </section>
  );
}
