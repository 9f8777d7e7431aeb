/**
 * The points of a run: parameter values first (point id last), one number format per
 * column, ranks with ties marked, skipped points folded into one row; a click on a point
 * shows its error, worker log and output in place.
 */
import * as React from 'react';

import { IRun } from '../api';
import {
  columnFormat,
  metricNames,
  rankRows,
  sweptParameters
} from '../results';
import { PointDetails } from './PointDetails';
import { StateBadge } from '../components/StateBadge';

export function Leaderboard(props: {
  run: IRun;
  onOpenOutput: (path: string) => void;
  onCompare: (base: string, remote: string) => void;
}): JSX.Element {
  const { run } = props;
  const [sortBy, setSortBy] = React.useState<
    { key: string; descending: boolean } | undefined
  >();
  const [open, setOpen] = React.useState<string | null>(null);
  const [unfold, setUnfold] = React.useState(false);
  const swept = sweptParameters(run);
  const names = swept.length
    ? swept
    : Object.keys(run.points[0]?.parameters ?? {});
  const fixed = Object.entries(run.points[0]?.parameters ?? {}).filter(
    ([n]) => !names.includes(n)
  );
  const metrics = metricNames(run);
  const { rows, skipped } = rankRows(run, sortBy);
  const formats: { [column: string]: (v: any) => string } = {};
  for (const n of names) {
    formats[n] = columnFormat(run.points.map(p => p.parameters[n]));
  }
  for (const m of metrics) {
    formats[m] = columnFormat(run.points.map(p => p.metrics[m]));
  }
  const sortOn = (key: string) =>
    setSortBy(s => ({
      key,
      descending: s?.key === key ? !s.descending : true
    }));
  const span = 3 + names.length + metrics.length;
  const pointRow = (
    p: IRun['points'][0],
    rank: number | null,
    tie: boolean
  ) => (
    <React.Fragment key={p.id}>
      <tr
        className={`jp-mvdp-point jp-mvdp-state-${p.state}${run.best?.id === p.id ? ' jp-mvdp-best' : ''}${open === p.id ? ' jp-mod-selected' : ''}`}
        data-point={p.id}
        aria-expanded={open === p.id}
        title={p.error ?? 'Show details'}
        onClick={() => setOpen(open === p.id ? null : p.id)}
      >
        <td className="jp-mvdp-rank" title={tie ? 'tie' : undefined}>
          {rank ?? ''}
          {tie && <span className="jp-mvdp-tie">=</span>}
        </td>
        {names.map(n => (
          <td key={n} className="jp-mvdp-num">
            {formats[n](p.parameters[n])}
          </td>
        ))}
        {metrics.map(m => (
          <td key={m} className="jp-mvdp-num jp-mvdp-metric">
            {formats[m](p.metrics[m])}
          </td>
        ))}
        <td className="jp-mvdp-pointState">
          <StateBadge state={p.state} />
        </td>
        <td>
          <code className="jp-mvdp-pointId">{p.id}</code>
        </td>
      </tr>
      {open === p.id && (
        <tr className="jp-mvdp-details">
          <td colSpan={span}>
            <PointDetails
              run={run}
              point={p}
              onOpenOutput={props.onOpenOutput}
              onCompare={props.onCompare}
            />
          </td>
        </tr>
      )}
    </React.Fragment>
  );
  return (
    <div className="jp-mvdp-leaderboardBox">
      <table className="jp-mvdp-leaderboard" aria-label="leaderboard">
        <thead>
          <tr>
            <th>#</th>
            {[...names, ...metrics].map(c => (
              <th
                key={c}
                onClick={() => sortOn(c)}
                className={`jp-mvdp-sortable jp-mvdp-num${metrics.includes(c) ? ' jp-mvdp-metric' : ''}`}
                aria-sort={
                  sortBy?.key === c
                    ? sortBy.descending
                      ? 'descending'
                      : 'ascending'
                    : undefined
                }
              >
                {c}
              </th>
            ))}
            <th>state</th>
            <th>point</th>
          </tr>
        </thead>
        <tbody>
          {rows.map(r => pointRow(r.point, r.rank, r.tie))}
          {skipped.length > 0 && (
            <tr
              className="jp-mvdp-skippedRow"
              onClick={() => setUnfold(!unfold)}
              aria-expanded={unfold}
            >
              <td colSpan={span}>
                {unfold ? '▾' : '▸'} {skipped.length} point
                {skipped.length === 1 ? '' : 's'} skipped
                {run.reason ? ` (${run.reason})` : ''}
              </td>
            </tr>
          )}
          {unfold && skipped.map(p => pointRow(p, null, false))}
        </tbody>
      </table>
      {fixed.length > 0 && (
        <div className="jp-mvdp-muted jp-mvdp-fixed">
          fixed: {fixed.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}
        </div>
      )}
    </div>
  );
}
