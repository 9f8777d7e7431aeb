/**
 * The metric against one parameter (log axis when the values call for it), or a heatmap of
 * the metric over two swept parameters; drawn by JupyterLab's own Vega-Lite renderer.
 */
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import * as React from 'react';

import { IRun } from '../api';
import {
  heatmapSpec,
  metricNames,
  parameterNames,
  plotSpec,
  sweptParameters
} from '../results';
import { themedSpec, useThemeColors } from '../plotTheme';
import { VegaLite } from './VegaLite';

const HEATMAP = '(heatmap)';

export function Plot(props: {
  run: IRun;
  rendermime: IRenderMimeRegistry;
}): JSX.Element | null {
  const { run } = props;
  const swept = sweptParameters(run);
  const names = swept.length ? swept : parameterNames(run);
  const metrics = metricNames(run);
  const colors = useThemeColors();
  const [metric, setMetric] = React.useState<string | undefined>();
  const [view, setView] = React.useState<string | undefined>();
  const shown = metric && metrics.includes(metric) ? metric : metrics[0];
  const heatmap = swept.length >= 2;
  const chosen =
    view && (names.includes(view) || (view === HEATMAP && heatmap))
      ? view
      : heatmap
        ? HEATMAP
        : names[0];
  if (!shown || !chosen) {
    return null;
  }
  const spec = themedSpec(
    chosen === HEATMAP
      ? heatmapSpec(run, shown, swept[0], swept[1])
      : plotSpec(run, shown, chosen),
    colors
  );
  return (
    <div className="jp-mvdp-plot">
      <div className="jp-mvdp-plotControls">
        <select
          aria-label="plot metric"
          value={shown}
          onChange={e => setMetric(e.target.value)}
        >
          {metrics.map(m => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
        <span>by</span>
        <select
          aria-label="plot parameter"
          value={chosen}
          onChange={e => setView(e.target.value)}
        >
          {heatmap && (
            <option value={HEATMAP}>
              {swept[0]} × {swept[1]}
            </option>
          )}
          {names.map(n => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <VegaLite rendermime={props.rendermime} spec={spec} />
    </div>
  );
}
