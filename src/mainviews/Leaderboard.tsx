/**
 * The points of a run: parameter values first (point id last), one number format per
 * column, ranks with ties marked, skipped points folded into one row; a point opened (click,
 * or Enter on its focused row) shows its error, worker log and output below the table.
 *
 * Virtualized: rows have one fixed height and only those in view (and a few around) are in
 * the DOM; their points come from the server in pages (src/pointsWindow.ts), sorted and
 * filtered there, so a 10,000-point run costs what a 30-row one does. A normal run's document
 * already holds every point: the table starts from it, and follows events without a request.
 */
import * as React from 'react';

import { IPoint, IRun, PointState } from '../api';
import { IWindowQuery, PointsWindow } from '../pointsWindow';
import {
  columnFormat,
  hasAllPoints,
  metricNames,
  parameterNames,
  pointCount,
  rankRows,
  sweptParameters
} from '../results';
import { PointDetails } from './PointDetails';
import { StateBadge } from '../components/StateBadge';

/** Every row's height in px (style/leaderboard.css sets the same). */
export const ROW_HEIGHT = 28;
/** Rows rendered beyond the visible ones, each side. */
const OVERSCAN = 10;
/** Rows fetched beyond the rendered ones, each side (half a page). */
const AHEAD = 50;
/** At most this long between two refreshes of a big run's rows while it runs. */
const REFRESH_MS = 1000;
/** What the table lists; the skipped points are folded into one row below them. */
const SHOWN: PointState[] = ['queued', 'running', 'success', 'failed'];
const SKIPPED: PointState[] = ['skipped'];

interface ISort {
  /** the server's sort: rank, id, state, metric:<name>, param:<name> */
  key: string;
  descending: boolean;
}

const BY_RANK: ISort = { key: 'rank', descending: false };

function useWindow(run: IRun, query: IWindowQuery): PointsWindow {
  const key = `${run.run_id} ${query.sort} ${query.order} ${query.state}`;
  const win = React.useMemo(() => new PointsWindow(run.run_id, query), [key]);
  React.useEffect(() => () => win.dispose(), [win]);
  const [, bump] = React.useState(0);
  React.useEffect(() => {
    const changed = () => bump(n => n + 1);
    win.changed.connect(changed);
    return () => {
      win.changed.disconnect(changed);
    };
  }, [win]);
  return win;
}

export function Leaderboard(props: {
  run: IRun;
  onOpenOutput: (path: string) => void;
  onCompare: (base: string, remote: string) => void;
}): JSX.Element {
  const { run } = props;
  const [sortBy, setSortBy] = React.useState<ISort>(BY_RANK);
  const [open, setOpen] = React.useState<IPoint | null>(null);
  const [unfold, setUnfold] = React.useState(false);
  const [scrollTop, setScrollTop] = React.useState(0);
  const [height, setHeight] = React.useState(16 * ROW_HEIGHT);
  const [focusRow, setFocusRow] = React.useState<number | null>(null);
  const scroller = React.useRef<HTMLDivElement>(null);
  const order = sortBy.descending ? 'desc' : 'asc';
  const shown = useWindow(run, { sort: sortBy.key, order, state: SHOWN });
  const skipped = useWindow(run, { sort: sortBy.key, order, state: SKIPPED });

  // a normal run: every point is in the document, ranked (and re-ranked on events) there
  const whole =
    hasAllPoints(run) && sortBy.key === 'rank' && !sortBy.descending;
  const local = React.useMemo(
    () => (whole ? rankRows(run) : null),
    [run, whole]
  );
  const ties = React.useMemo(
    () => new Map(local?.rows.map(r => [r.point.id, r.tie]) ?? []),
    [local]
  );
  React.useEffect(() => {
    if (local) {
      shown.seed(
        local.rows.map(r => r.point),
        local.rows.length
      );
      skipped.seed(local.skipped, local.skipped.length);
    }
  }, [local, shown, skipped]);

  // a big run (or another sort): its pages again once the run changed, at most once a second
  const refresh = React.useRef<{ timer: any; last: number }>({
    timer: null,
    last: 0
  });
  const [rangeTick, bumpRange] = React.useState(0);
  const version = run.seq ?? run.updated;
  const seen = React.useRef(version);
  React.useEffect(() => {
    if (whole || seen.current === version) {
      return;
    }
    seen.current = version;
    const state = refresh.current;
    const go = () => {
      state.timer = null;
      state.last = Date.now();
      shown.invalidate();
      skipped.invalidate();
      bumpRange(n => n + 1); // the range effect fetches what is in view
    };
    if (state.timer === null) {
      const wait = Math.max(0, state.last + REFRESH_MS - Date.now());
      state.timer = setTimeout(go, wait);
    }
  }, [version, whole, shown, skipped]);
  React.useEffect(() => () => clearTimeout(refresh.current.timer), []);

  React.useEffect(() => {
    const el = scroller.current;
    if (!el || typeof ResizeObserver === 'undefined') {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(el.clientHeight));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const nShown = shown.total ?? pointCount(run) - (run.counts.skipped ?? 0);
  const nSkipped = skipped.total ?? run.counts.skipped ?? 0;
  const fold = nSkipped > 0 ? 1 : 0;
  const rowCount = nShown + fold + (unfold ? nSkipped : 0);
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(
    rowCount,
    Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN
  );

  React.useEffect(() => {
    // the rows in view, and half a page around them: a scroll step rarely waits
    const [from, to] = [first - AHEAD, last + AHEAD];
    if (from < nShown) {
      void shown
        .ensure(Math.max(0, from), Math.min(to, nShown))
        .catch(() => undefined);
    }
    if (unfold && to > nShown + fold) {
      void skipped
        .ensure(Math.max(0, from - nShown - fold), to - nShown - fold)
        .catch(() => undefined);
    }
  }, [first, last, shown, skipped, unfold, nShown, rangeTick]);

  // keyboard: the focused row stays focused while the table scrolls under it
  React.useEffect(() => {
    const box = scroller.current;
    const active = document.activeElement;
    const onRow =
      active instanceof HTMLElement &&
      active.matches('tr[data-row]') &&
      box?.contains(active);
    if (focusRow === null || !box || (active !== document.body && !onRow)) {
      return; // the user is elsewhere (a header, the point's details, another panel)
    }
    const el = box.querySelector<HTMLElement>(`[data-row="${focusRow}"]`);
    if (el && document.activeElement !== el) {
      el.focus({ preventScroll: true });
    }
  });

  const swept = sweptParameters(run);
  const names = swept.length ? swept : parameterNames(run);
  const sample = run.points[0]?.parameters ?? run.best?.parameters ?? {};
  const fixed = parameterNames(run)
    .filter(n => !names.includes(n) && n in sample)
    .map(n => [n, sample[n]] as [string, any]);
  const metrics = metricNames(run);
  const formats: { [column: string]: (v: any) => string } = {};
  for (const n of names) {
    formats[n] = columnFormat(run.points.map(p => p.parameters[n]));
  }
  for (const m of metrics) {
    formats[m] = columnFormat(run.points.map(p => p.metrics[m]));
  }
  const columns: { label: string; key: string; className: string }[] = [
    { label: '#', key: 'rank', className: 'jp-mvdp-rankHead' },
    ...names.map(n => ({
      label: n,
      key: `param:${n}`,
      className: 'jp-mvdp-num'
    })),
    ...metrics.map(m => ({
      label: m,
      key: `metric:${m}`,
      className: 'jp-mvdp-num jp-mvdp-metric'
    })),
    { label: 'state', key: 'state', className: '' },
    { label: 'point', key: 'id', className: 'jp-mvdp-pointHead' }
  ];
  const span = columns.length;
  const sortOn = (key: string) => {
    setSortBy(
      s =>
        s.key === key
          ? { key, descending: !s.descending }
          : { key, descending: key.includes(':') } // values: the largest first
    );
    setScrollTop(0);
    scroller.current?.scrollTo({ top: 0 });
  };

  const toggle = (p: IPoint) => setOpen(o => (o?.id === p.id ? null : p));
  const moveFocus = (row: number) => {
    const target = Math.max(0, Math.min(rowCount - 1, row));
    setFocusRow(target);
    const el = scroller.current;
    if (el) {
      const top = target * ROW_HEIGHT;
      if (top < el.scrollTop) {
        el.scrollTop = top;
      } else if (top + 2 * ROW_HEIGHT > el.scrollTop + el.clientHeight) {
        el.scrollTop = top + 2 * ROW_HEIGHT - el.clientHeight;
      }
    }
  };
  const onKey =
    (row: number, activate: () => void) => (e: React.KeyboardEvent) => {
      const step = Math.max(1, Math.floor(height / ROW_HEIGHT) - 2);
      const moves: { [key: string]: number } = {
        ArrowDown: row + 1,
        ArrowUp: row - 1,
        PageDown: row + step,
        PageUp: row - step,
        Home: 0,
        End: rowCount - 1
      };
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        activate();
      } else if (e.key in moves) {
        e.preventDefault();
        moveFocus(moves[e.key]);
      }
    };

  let current = open;
  const pointRow = (p: IPoint | undefined, row: number) => {
    if (!p) {
      return (
        <tr
          key={`row-${row}`}
          className="jp-mvdp-point jp-mvdp-loadingRow"
          data-row={row}
          aria-rowindex={row + 2}
        >
          <td colSpan={span} className="jp-mvdp-muted">
            …
          </td>
        </tr>
      );
    }
    if (open?.id === p.id) {
      current = p; // the freshest copy of the open point
    }
    const tie = ties.get(p.id) ?? p.tie ?? false;
    const selected = open?.id === p.id;
    return (
      <tr
        key={p.id}
        className={`jp-mvdp-point jp-mvdp-state-${p.state}${run.best?.id === p.id ? ' jp-mvdp-best' : ''}${selected ? ' jp-mod-selected' : ''}`}
        data-point={p.id}
        data-row={row}
        aria-rowindex={row + 2}
        aria-selected={selected}
        tabIndex={0}
        title={p.error ?? 'Show details (Enter)'}
        onClick={() => {
          setFocusRow(row);
          toggle(p);
        }}
        onFocus={() => setFocusRow(row)}
        onKeyDown={onKey(row, () => toggle(p))}
      >
        <td className="jp-mvdp-rank" title={tie ? 'tie' : undefined}>
          {p.rank ?? ''}
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
        <td className="jp-mvdp-pointIdCell">
          <code className="jp-mvdp-pointId" title={p.id}>
            {p.id}
          </code>
        </td>
      </tr>
    );
  };

  const rows: JSX.Element[] = [];
  for (let row = first; row < last; row++) {
    if (row < nShown) {
      rows.push(pointRow(shown.rowAt(row), row));
    } else if (row === nShown && fold) {
      const unfoldRow = () => setUnfold(u => !u);
      rows.push(
        <tr
          key="skipped"
          className="jp-mvdp-skippedRow"
          data-row={row}
          aria-rowindex={row + 2}
          tabIndex={0}
          onClick={unfoldRow}
          onFocus={() => setFocusRow(row)}
          onKeyDown={onKey(row, unfoldRow)}
        >
          <td colSpan={span}>
            {/* the row takes focus and clicks (a table row may not carry
                aria-expanded); the button says whether it is unfolded */}
            <button
              className="jp-mvdp-unfold"
              aria-expanded={unfold}
              tabIndex={-1}
            >
              {unfold ? '▾' : '▸'} {nSkipped} point
              {nSkipped === 1 ? '' : 's'} skipped
              {run.reason ? ` (${run.reason})` : ''}
            </button>
          </td>
        </tr>
      );
    } else {
      rows.push(pointRow(skipped.rowAt(row - nShown - fold), row));
    }
  }

  return (
    <div className="jp-mvdp-leaderboardBox">
      <div
        className="jp-mvdp-leaderboardScroll"
        ref={scroller}
        onScroll={e => setScrollTop(e.currentTarget.scrollTop)}
      >
        <table
          className="jp-mvdp-leaderboard"
          aria-label="leaderboard"
          aria-rowcount={rowCount + 1}
        >
          <thead>
            <tr aria-rowindex={1}>
              {columns.map(c => {
                const sorted = sortBy.key === c.key;
                return (
                  <th
                    key={c.key}
                    className={`jp-mvdp-sortable ${c.className}`}
                    aria-sort={
                      sorted
                        ? sortBy.descending
                          ? 'descending'
                          : 'ascending'
                        : 'none'
                    }
                  >
                    <button
                      className="jp-mvdp-sortButton"
                      title={`Sort by ${c.label === '#' ? 'rank' : c.label}`}
                      onClick={() => sortOn(c.key)}
                    >
                      {c.label}
                    </button>
                  </th>
                );
              })}
            </tr>
          </thead>
          <tbody>
            {first > 0 && (
              <tr aria-hidden="true" style={{ height: first * ROW_HEIGHT }} />
            )}
            {rows}
            {last < rowCount && (
              <tr
                aria-hidden="true"
                style={{ height: (rowCount - last) * ROW_HEIGHT }}
              />
            )}
          </tbody>
        </table>
      </div>
      {fixed.length > 0 && (
        <div className="jp-mvdp-muted jp-mvdp-fixed">
          fixed: {fixed.map(([n, v]) => `${n}=${JSON.stringify(v)}`).join(', ')}
        </div>
      )}
      {current && (
        <div className="jp-mvdp-details" aria-label="point details">
          <PointDetails
            run={run}
            point={current}
            onOpenOutput={props.onOpenOutput}
            onCompare={props.onCompare}
          />
        </div>
      )}
    </div>
  );
}
