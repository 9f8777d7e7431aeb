/**
 * The MVDP sidebar: the active notebook's parameters, the grid and strategy editor,
 * Productionize, and the user's runs with live point states, leaderboard and plot.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { NotebookPanel, INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';
import * as React from 'react';

import {
  api,
  IParameter,
  IRun,
  IRunEvent,
  ITarget,
  IValidation,
  StrategyKind
} from './api';
import {
  applyEvent,
  buildPlan,
  emptyAxis,
  formatValue,
  IAxisEditor,
  IPlanForm,
  leaderboard,
  plotSpec,
  POINT_STATES
} from './model';
import { MvdpRequestError } from './request';
import { CommandIDs, RUN_EVENT_SCHEMA } from './tokens';

const VEGALITE = 'application/vnd.vegalite.v5+json';

export interface IPanelOptions {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  rendermime: IRenderMimeRegistry;
  settings: { defaultTarget: string; validationDelay: number };
}

/** The sidebar widget; `refresh` re-reads the active notebook (after tagging). */
export class MvdpPanel extends ReactWidget {
  constructor(private options: IPanelOptions) {
    super();
    this.addClass('jp-mvdp-panel');
  }

  refresh(): void {
    this._refresh.emit();
  }

  render(): JSX.Element {
    return <PanelView {...this.options} refreshSignal={this._refresh} />;
  }

  private _refresh = new Signal<this, void>(this);
}

const errorText = (e: any): string =>
  e instanceof MvdpRequestError ? e.message : String(e?.message ?? e);

const initialForm = (): IPlanForm => ({
  axes: {},
  strategy: { kind: 'grid', goal: 'max' },
  parallelism: '',
  timeout: '',
  schedule: '',
  queue: '',
  pool: '',
  cpu: '',
  memory: ''
});

function PanelView(
  props: IPanelOptions & { refreshSignal: Signal<any, void> }
): JSX.Element {
  const { app, tracker } = props;
  const [path, setPath] = React.useState<string | null>(
    tracker.currentWidget?.context.path ?? null
  );
  const [params, setParams] = React.useState<IParameter[] | null>(null);
  const [paramsError, setParamsError] = React.useState<string | null>(null);
  const [noCell, setNoCell] = React.useState(false);
  const [form, setForm] = React.useState<IPlanForm>(initialForm);
  const [validation, setValidation] = React.useState<IValidation | null>(null);
  const [targets, setTargets] = React.useState<ITarget[]>([]);
  const [target, setTarget] = React.useState(props.settings.defaultTarget);
  const [metrics, setMetrics] = React.useState<string[]>([]);
  const [busy, setBusy] = React.useState(false);
  const [submitError, setSubmitError] = React.useState<string | null>(null);
  const [runs, setRuns] = React.useState<IRun[]>([]);
  const [selected, setSelected] = React.useState<string | null>(null);
  const [tick, setTick] = React.useState(0);

  // follow the active notebook
  React.useEffect(() => {
    const changed = (_: any, panel: NotebookPanel | null) =>
      setPath(panel?.context.path ?? null);
    tracker.currentChanged.connect(changed);
    const bump = () => setTick(t => t + 1);
    props.refreshSignal.connect(bump);
    return () => {
      tracker.currentChanged.disconnect(changed);
      props.refreshSignal.disconnect(bump);
    };
  }, [tracker]);

  // the notebook's parameters
  React.useEffect(() => {
    setParams(null);
    setParamsError(null);
    setNoCell(false);
    if (!path) {
      return;
    }
    let live = true;
    api
      .parameters(path)
      .then(doc => live && setParams(doc.parameters))
      .catch(e => {
        if (!live) {
          return;
        }
        if (e instanceof MvdpRequestError && e.error === 'NoParametersCell') {
          setNoCell(true);
        } else {
          setParamsError(errorText(e));
        }
      });
    api
      .metrics(path)
      .then(m => live && setMetrics(m))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [path, tick]);

  // targets and runs, once
  React.useEffect(() => {
    api
      .targets()
      .then(setTargets)
      .catch(e => setSubmitError(errorText(e)));
    api
      .runs()
      .then(setRuns)
      .catch(() => undefined);
  }, []);

  // live status from the event bus (REST is reloaded when an unknown run shows up)
  React.useEffect(() => {
    const stream = app.serviceManager.events.stream;
    const onEvent = (_: any, emission: any) => {
      if (emission.schema_id !== RUN_EVENT_SCHEMA) {
        return;
      }
      const event = emission as IRunEvent;
      setRuns(current => {
        if (!current.some(r => r.run_id === event.run_id)) {
          api
            .run(event.run_id)
            .then(run =>
              setRuns(now => [run, ...now.filter(r => r.run_id !== run.run_id)])
            )
            .catch(() => undefined);
          return current;
        }
        return current.map(r => applyEvent(r, event));
      });
      if (
        event.kind === 'run' &&
        ['success', 'failed', 'cancelled'].includes(event.state ?? '')
      ) {
        // the end of a run: REST has the final ranking, best point and reasons
        api
          .run(event.run_id)
          .then(run =>
            setRuns(now => now.map(r => (r.run_id === run.run_id ? run : r)))
          )
          .catch(() => undefined);
      }
    };
    stream.connect(onEvent);
    return () => {
      stream.disconnect(onEvent);
    };
  }, [app]);

  const built = React.useMemo(
    () => (params ? buildPlan(form, params) : null),
    [form, params]
  );

  // inline validation on the server, debounced
  React.useEffect(() => {
    setValidation(null);
    if (!path || !built || Object.keys(built.errors).length) {
      return;
    }
    let live = true;
    const timer = setTimeout(() => {
      api
        .validate(path, built.plan)
        .then(v => live && setValidation(v))
        .catch(e => live && setSubmitError(errorText(e)));
    }, props.settings.validationDelay);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [path, built]);

  const fieldErrors: { [field: string]: string } = { ...(built?.errors ?? {}) };
  for (const e of validation?.errors ?? []) {
    fieldErrors[e.field || 'plan'] = e.message;
  }
  const valid =
    !!built &&
    Object.keys(built.errors).length === 0 &&
    validation?.valid === true;

  const productionize = async () => {
    if (!path || !built) {
      return;
    }
    setBusy(true);
    setSubmitError(null);
    try {
      const run = await api.productionize(path, built.plan, target);
      setRuns(current => [run, ...current]);
      setSelected(run.run_id);
    } catch (e) {
      setSubmitError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const setAxis = (name: string, axis: IAxisEditor) =>
    setForm(f => ({ ...f, axes: { ...f.axes, [name]: axis } }));
  const setStrategy = (key: string, value: any) =>
    setForm(f => ({ ...f, strategy: { ...f.strategy, [key]: value } }));

  const run = runs.find(r => r.run_id === selected) ?? null;
  const limit = validation?.limit ?? 10000;
  const size = validation?.size ?? built?.size ?? null;

  return (
    <div className="jp-mvdp-body">
      <header className="jp-mvdp-header">
        <h2>Productionize</h2>
        <span className="jp-mvdp-notebook" title={path ?? ''}>
          {path ?? 'Open a notebook to productionize it.'}
        </span>
      </header>

      {paramsError && (
        <div className="jp-mvdp-error" role="alert">
          {paramsError}
        </div>
      )}

      {noCell && (
        <section className="jp-mvdp-section jp-mvdp-noParameters">
          <p>
            This notebook has no <code>parameters</code> cell. Put the defaults
            of what you want to vary (<code>n_estimators = 100</code>, …) in one
            code cell and tag it.
          </p>
          <button
            className="jp-mvdp-button"
            onClick={() =>
              app.commands.execute(CommandIDs.toggleParametersCell)
            }
          >
            Tag the active cell as parameters
          </button>
        </section>
      )}

      {params && (
        <section className="jp-mvdp-section" aria-label="Parameters and grid">
          <h3>Parameters and grid</h3>
          <table className="jp-mvdp-grid">
            <thead>
              <tr>
                <th>name</th>
                <th>type</th>
                <th>default</th>
                <th>values</th>
              </tr>
            </thead>
            <tbody>
              {params.map(p => (
                <AxisRow
                  key={p.name}
                  parameter={p}
                  axis={form.axes[p.name] ?? emptyAxis()}
                  error={fieldErrors[`grid.${p.name}`]}
                  onChange={a => setAxis(p.name, a)}
                />
              ))}
            </tbody>
          </table>
          <div
            className={
              size !== null && size > limit
                ? 'jp-mvdp-size jp-mvdp-warning'
                : 'jp-mvdp-size'
            }
            aria-live="polite"
          >
            {size === null
              ? ''
              : size > limit
                ? `${size.toLocaleString()} points: above the limit of ${limit.toLocaleString()}`
                : `${size.toLocaleString()} point${size === 1 ? '' : 's'}`}
          </div>
          {fieldErrors.grid && (
            <div className="jp-mvdp-error">{fieldErrors.grid}</div>
          )}
        </section>
      )}

      {params && (
        <section className="jp-mvdp-section" aria-label="Strategy">
          <h3>Strategy</h3>
          <label className="jp-mvdp-field">
            <span>strategy</span>
            <select
              aria-label="strategy"
              value={form.strategy.kind}
              onChange={e =>
                setStrategy('kind', e.target.value as StrategyKind)
              }
            >
              <option value="grid">Full grid</option>
              <option value="early_stop">Early stopping</option>
              <option value="canary">Canary</option>
            </select>
          </label>
          <label className="jp-mvdp-field">
            <span>metric</span>
            <input
              aria-label="metric"
              list="jp-mvdp-metrics"
              value={form.strategy.metric ?? ''}
              placeholder={metrics[0] ?? 'accuracy'}
              onChange={e => setStrategy('metric', e.target.value)}
            />
            <datalist id="jp-mvdp-metrics">
              {metrics.map(m => (
                <option key={m} value={m} />
              ))}
            </datalist>
          </label>
          <label className="jp-mvdp-field">
            <span>goal</span>
            <select
              aria-label="goal"
              value={form.strategy.goal ?? 'max'}
              onChange={e => setStrategy('goal', e.target.value)}
            >
              <option value="max">maximise</option>
              <option value="min">minimise</option>
            </select>
          </label>
          {form.strategy.kind === 'early_stop' && (
            <>
              <NumberField
                label="target"
                value={form.strategy.target}
                onChange={v => setStrategy('target', v)}
              />
              <NumberField
                label="budget"
                value={form.strategy.budget}
                onChange={v => setStrategy('budget', v)}
              />
              <NumberField
                label="seed"
                value={form.strategy.seed}
                onChange={v => setStrategy('seed', v)}
              />
            </>
          )}
          {form.strategy.kind === 'canary' && (
            <>
              <NumberField
                label="baseline"
                placeholder="last champion"
                value={form.strategy.baseline ?? undefined}
                onChange={v => setStrategy('baseline', v)}
              />
              <NumberField
                label="tolerance"
                value={form.strategy.tolerance}
                onChange={v => setStrategy('tolerance', v)}
              />
              <label className="jp-mvdp-field">
                <span>deploy notebook</span>
                <input
                  aria-label="deploy notebook"
                  value={form.strategy.deploy_notebook ?? ''}
                  onChange={e =>
                    setStrategy('deploy_notebook', e.target.value || undefined)
                  }
                />
              </label>
            </>
          )}
          {Object.entries(fieldErrors)
            .filter(
              ([field]) =>
                field.startsWith('strategy') || field === 'plan' || field === ''
            )
            .map(([field, message]) => (
              <div key={field} className="jp-mvdp-error">
                {message}
              </div>
            ))}
        </section>
      )}

      {params && (
        <section className="jp-mvdp-section" aria-label="Target">
          <h3>Target</h3>
          <label className="jp-mvdp-field">
            <span>target</span>
            <select
              aria-label="target to run on"
              value={target}
              onChange={e => setTarget(e.target.value)}
            >
              {targets.map(t => (
                <option key={t.name} value={t.name}>
                  {t.name} ({t.kind}){t.reachable ? '' : ' — unreachable'}
                </option>
              ))}
            </select>
          </label>
          {targets.find(t => t.name === target && !t.reachable) && (
            <div className="jp-mvdp-warning">
              {targets.find(t => t.name === target)?.message}
            </div>
          )}
          <label className="jp-mvdp-field">
            <span>schedule</span>
            <input
              aria-label="schedule"
              placeholder="on demand (or @daily, a cron)"
              value={form.schedule}
              onChange={e => setForm({ ...form, schedule: e.target.value })}
            />
          </label>
          <details className="jp-mvdp-executor">
            <summary>Execution options</summary>
            {(
              [
                'parallelism',
                'timeout',
                'queue',
                'pool',
                'cpu',
                'memory'
              ] as const
            ).map(key => (
              <label className="jp-mvdp-field" key={key}>
                <span>
                  {key === 'cpu'
                    ? 'CPU (Kubernetes)'
                    : key === 'memory'
                      ? 'memory (Kubernetes)'
                      : key}
                </span>
                <input
                  aria-label={key}
                  value={form[key]}
                  onChange={e => setForm({ ...form, [key]: e.target.value })}
                />
                {fieldErrors[key] && (
                  <span className="jp-mvdp-error">{fieldErrors[key]}</span>
                )}
              </label>
            ))}
          </details>
          <button
            className="jp-mvdp-button jp-mvdp-productionize"
            disabled={!valid || busy}
            onClick={productionize}
          >
            {busy ? 'Productionizing…' : 'Productionize'}
          </button>
          {submitError && (
            <div className="jp-mvdp-error jp-mvdp-submitError" role="alert">
              {submitError}
            </div>
          )}
        </section>
      )}

      <section className="jp-mvdp-section" aria-label="Runs">
        <h3>Runs</h3>
        {runs.length === 0 && <p className="jp-mvdp-muted">No runs yet.</p>}
        <ul className="jp-mvdp-runs">
          {runs.map(r => (
            <li
              key={r.run_id}
              className={
                r.run_id === selected
                  ? 'jp-mvdp-run jp-mod-selected'
                  : 'jp-mvdp-run'
              }
            >
              <button
                onClick={() =>
                  setSelected(r.run_id === selected ? null : r.run_id)
                }
              >
                <span className={`jp-mvdp-state jp-mvdp-state-${r.state}`}>
                  {r.state}
                </span>
                <span>{r.notebook}</span>
                <span className="jp-mvdp-muted">
                  {r.strategy.kind} · {r.target} · {r.run_id}
                </span>
              </button>
            </li>
          ))}
        </ul>
        {run && <RunView run={run} {...props} />}
      </section>
    </div>
  );
}

function NumberField(props: {
  label: string;
  value: number | undefined;
  placeholder?: string;
  onChange: (v: number | undefined) => void;
}): JSX.Element {
  const [text, setText] = React.useState(props.value?.toString() ?? '');
  return (
    <label className="jp-mvdp-field">
      <span>{props.label}</span>
      <input
        aria-label={props.label}
        inputMode="decimal"
        placeholder={props.placeholder}
        value={text}
        onChange={e => {
          setText(e.target.value);
          const n = Number(e.target.value);
          props.onChange(
            e.target.value.trim() === '' || isNaN(n) ? undefined : n
          );
        }}
      />
    </label>
  );
}

function AxisRow(props: {
  parameter: IParameter;
  axis: IAxisEditor;
  error?: string;
  onChange: (axis: IAxisEditor) => void;
}): JSX.Element {
  const { parameter: p, axis, onChange } = props;
  const set = (patch: Partial<IAxisEditor>) => onChange({ ...axis, ...patch });
  const numeric = p.type === 'int' || p.type === 'float';
  const label = `${p.name} values`;
  return (
    <tr className="jp-mvdp-axis" data-parameter={p.name}>
      <td title={p.help}>
        <strong>{p.name}</strong>
        {p.help && <div className="jp-mvdp-muted">{p.help}</div>}
      </td>
      <td>
        <code>{p.type}</code>
      </td>
      <td>
        <code>{p.default}</code>
      </td>
      <td>
        <select
          aria-label={`${p.name} mode`}
          value={axis.mode}
          onChange={e => set({ mode: e.target.value as IAxisEditor['mode'] })}
        >
          <option value="default">default</option>
          <option value="values">values</option>
          {numeric && <option value="range">range</option>}
        </select>
        {axis.mode === 'values' && p.type === 'bool' && (
          <span className="jp-mvdp-bools">
            {['true', 'false'].map(b => (
              <label key={b}>
                <input
                  type="checkbox"
                  aria-label={`${p.name} ${b}`}
                  checked={axis.text
                    .split(',')
                    .map(s => s.trim())
                    .includes(b)}
                  onChange={e => {
                    const chosen = new Set(
                      axis.text
                        .split(',')
                        .map(s => s.trim())
                        .filter(Boolean)
                    );
                    if (e.target.checked) {
                      chosen.add(b);
                    } else {
                      chosen.delete(b);
                    }
                    set({ text: [...chosen].join(', ') });
                  }}
                />
                {b}
              </label>
            ))}
          </span>
        )}
        {axis.mode === 'values' && p.type !== 'bool' && (
          <input
            aria-label={label}
            className="jp-mvdp-values"
            placeholder={p.type === 'str' ? 'gini, entropy' : '10, 50, 100'}
            value={axis.text}
            onChange={e => set({ text: e.target.value })}
          />
        )}
        {axis.mode === 'range' && (
          <span className="jp-mvdp-range">
            <input
              aria-label={`${p.name} start`}
              placeholder="start"
              value={axis.start}
              onChange={e => set({ start: e.target.value })}
            />
            <input
              aria-label={`${p.name} stop`}
              placeholder="stop"
              value={axis.stop}
              onChange={e => set({ stop: e.target.value })}
            />
            <select
              aria-label={`${p.name} range kind`}
              value={axis.rangeKind}
              onChange={e =>
                set({ rangeKind: e.target.value as 'step' | 'num' })
              }
            >
              <option value="step">step</option>
              <option value="num">count</option>
            </select>
            {axis.rangeKind === 'step' ? (
              <input
                aria-label={`${p.name} step`}
                placeholder="step"
                value={axis.step}
                onChange={e => set({ step: e.target.value })}
              />
            ) : (
              <>
                <input
                  aria-label={`${p.name} count`}
                  placeholder="count"
                  value={axis.num}
                  onChange={e => set({ num: e.target.value })}
                />
                <label>
                  <input
                    type="checkbox"
                    aria-label={`${p.name} log`}
                    checked={axis.log}
                    onChange={e => set({ log: e.target.checked })}
                  />
                  log
                </label>
              </>
            )}
          </span>
        )}
        {props.error && (
          <div className="jp-mvdp-error jp-mvdp-fieldError" role="alert">
            {props.error}
          </div>
        )}
      </td>
    </tr>
  );
}

function RunView(props: { run: IRun } & IPanelOptions): JSX.Element {
  const { run, app } = props;
  const metric = run.strategy.metric;
  const [sortBy, setSortBy] = React.useState<
    { key: string; descending: boolean } | undefined
  >();
  const names = Object.keys(run.points[0]?.parameters ?? {});
  const seen = new Set<string>();
  run.points.forEach(p =>
    Object.keys(p.metrics ?? {}).forEach(m => seen.add(m))
  );
  const metricNames: string[] = Array.from(seen).filter(m =>
    run.points.some(p => typeof p.metrics[m] === 'number')
  );
  const [plotParam, setPlotParam] = React.useState<string>(names[0] ?? '');
  const [now, setNow] = React.useState(Date.now() / 1000);
  const active =
    run.state === 'queued' ||
    run.state === 'running' ||
    run.state === 'unknown';
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now() / 1000), 1000);
    return () => clearInterval(timer);
  }, [active]);
  const elapsed = Math.max(0, (run.finished ?? now) - run.created);
  const rows = leaderboard(
    run.points,
    metric,
    run.strategy.goal ?? 'max',
    sortBy
  );
  const plotMetric: string | undefined = metric ?? metricNames[0];
  const sortOn = (key: string) =>
    setSortBy(s => ({
      key,
      descending: s?.key === key ? !s.descending : true
    }));

  return (
    <div className="jp-mvdp-runView" data-run={run.run_id}>
      <div className="jp-mvdp-runHeader">
        <span className={`jp-mvdp-state jp-mvdp-state-${run.state}`}>
          {run.state}
        </span>
        <span>{elapsed.toFixed(0)} s</span>
        {run.progress && active && (
          <span className="jp-mvdp-muted">{run.progress}</span>
        )}
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
      </div>
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
      {!run.outcome && run.reason && (
        <div className="jp-mvdp-muted">Stopped: {run.reason}</div>
      )}
      <div className="jp-mvdp-actions">
        {active && (
          <button
            className="jp-mvdp-button"
            onClick={() => api.cancel(run.run_id).catch(() => undefined)}
          >
            Cancel
          </button>
        )}
        <button
          className="jp-mvdp-button"
          onClick={() =>
            app.commands.execute(CommandIDs.viewDag, {
              runId: run.run_id,
              pipeline: run.pipeline
            })
          }
        >
          View DAG
        </button>
      </div>
      <table className="jp-mvdp-leaderboard" aria-label="leaderboard">
        <thead>
          <tr>
            <th>#</th>
            <th>point</th>
            <th>state</th>
            {names.map(n => (
              <th
                key={n}
                onClick={() => sortOn(n)}
                className="jp-mvdp-sortable"
              >
                {n}
              </th>
            ))}
            {metricNames.map(m => (
              <th
                key={m}
                onClick={() => sortOn(m)}
                className="jp-mvdp-sortable"
              >
                {m}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((p, i) => (
            <tr
              key={p.id}
              className={`jp-mvdp-point jp-mvdp-state-${p.state}${run.best?.id === p.id ? ' jp-mvdp-best' : ''}`}
              data-point={p.id}
              title={
                p.error ?? (p.output ? 'Open the output notebook' : p.state)
              }
              onClick={() =>
                p.output &&
                app.commands.execute('docmanager:open', { path: p.output })
              }
            >
              <td>{i + 1}</td>
              <td>
                <code>{p.id}</code>
              </td>
              <td className="jp-mvdp-pointState">{p.state}</td>
              {names.map(n => (
                <td key={n}>{formatValue(p.parameters[n])}</td>
              ))}
              {metricNames.map(m => (
                <td key={m}>{formatValue(p.metrics[m])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {plotMetric &&
        names.length > 0 &&
        run.points.some(p => typeof p.metrics[plotMetric] === 'number') && (
          <div className="jp-mvdp-plot">
            <label className="jp-mvdp-field">
              <span>{plotMetric} by</span>
              <select
                aria-label="plot parameter"
                value={plotParam}
                onChange={e => setPlotParam(e.target.value)}
              >
                {names.map(n => (
                  <option key={n} value={n}>
                    {n}
                  </option>
                ))}
              </select>
            </label>
            <VegaPlot
              rendermime={props.rendermime}
              spec={plotSpec(run, plotMetric, plotParam || names[0])}
            />
          </div>
        )}
    </div>
  );
}

/** A Vega-Lite chart through JupyterLab's own renderer. */
function VegaPlot(props: {
  rendermime: IRenderMimeRegistry;
  spec: any;
}): JSX.Element {
  const ref = React.useRef<HTMLDivElement>(null);
  const key = JSON.stringify(props.spec);
  React.useEffect(() => {
    const host = ref.current;
    if (!host || !props.rendermime.mimeTypes.includes(VEGALITE)) {
      return;
    }
    const renderer = props.rendermime.createRenderer(VEGALITE);
    host.appendChild(renderer.node);
    void renderer.renderModel(
      new MimeModel({ data: { [VEGALITE]: props.spec } })
    );
    return () => {
      renderer.dispose();
      host.innerHTML = '';
    };
  }, [key]);
  return (
    <div className="jp-mvdp-vega" ref={ref} aria-label="plot of the metric" />
  );
}
