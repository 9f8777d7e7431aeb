/**
 * The user's runs, shared by the sidebar, the run views and the notifications: loaded over
 * REST, kept live from jupyter_server's event bus, refreshed from REST when a run ends.
 * The list holds summaries (no points); a run opened in a view holds its document (the
 * summary and a first page of points, src/pointsWindow.ts pages the rest).
 */
import { Event } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import { api, IRun, IRunEvent, IRunSummary } from './api';
import { applyEvent } from './results';
import { RUN_EVENT_SCHEMA } from './tokens';

const DONE = ['success', 'failed', 'cancelled'];

export class RunsModel {
  constructor(private events: Event.IManager) {
    events.stream.connect(this._onEvent, this);
    void this.reload();
  }

  /** Runs, newest first, without their points. */
  get runs(): IRunSummary[] {
    return this._runs;
  }

  /** Emitted on any change of the list or a run. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A run that ended while the lab was watching it (final document from REST). */
  get finished(): ISignal<this, IRun> {
    return this._finished;
  }

  /** The run's document (summary and first page), once a view fetched it. */
  get(runId: string): IRun | undefined {
    return this._docs.get(runId);
  }

  /** The runs' documents loaded so far (opened in a view): each a summary and a page. */
  get documents(): IRun[] {
    return Array.from(this._docs.values());
  }

  /** The run's summary, as the list has it. */
  summary(runId: string): IRunSummary | undefined {
    return this._docs.get(runId) ?? this._runs.find(r => r.run_id === runId);
  }

  /** What went wrong with the server's run store itself (a damaged store set aside). */
  get warnings(): string[] {
    return this._warnings;
  }

  async reload(): Promise<void> {
    try {
      const { runs, warnings } = await api.runs();
      this._runs = runs;
      this._warnings = warnings ?? [];
      this._changed.emit();
    } catch (reason) {
      console.warn('jupyter-mvdp: runs not loaded', reason);
    }
  }

  /** A run from REST, kept in the list (opening a run restored with the layout). */
  async fetch(runId: string): Promise<IRun> {
    const run = await api.run(runId);
    this._put(run);
    return run;
  }

  /** A run just created by Productionize. */
  add(run: IRun): void {
    this._put(run);
  }

  dispose(): void {
    this.events.stream.disconnect(this._onEvent, this);
    Signal.clearData(this);
  }

  private _put(run: IRun): void {
    const seq = this._docs.get(run.run_id)?.seq;
    const doc: IRun = seq !== undefined ? { ...run, seq } : run;
    this._docs.set(run.run_id, doc);
    const summary: IRunSummary = { ...doc };
    delete (summary as Partial<IRun>).points;
    delete (summary as Partial<IRun>).page;
    const known = this._runs.some(r => r.run_id === run.run_id);
    this._runs = known
      ? this._runs.map(r => (r.run_id === run.run_id ? summary : r))
      : [summary, ...this._runs];
    this._changed.emit();
  }

  private _onEvent(_: any, emission: any): void {
    if (emission.schema_id !== RUN_EVENT_SCHEMA) {
      return;
    }
    const event = emission as IRunEvent;
    const run = this.summary(event.run_id);
    const ended = event.kind === 'run' && DONE.includes(event.state ?? '');
    if (!run) {
      // a run started elsewhere (its schedule, Airflow's UI or API) may end within the
      // poll that adopted it: its first events arrive before the lab has it
      this.fetch(event.run_id)
        .then(found => {
          if (ended) {
            this._finished.emit(found);
          }
        })
        .catch(() => undefined);
      return;
    }
    this._runs = this._runs.map(r =>
      r.run_id === event.run_id ? applyEvent(r, event) : r
    );
    const doc = this._docs.get(event.run_id);
    if (doc) {
      this._docs.set(event.run_id, applyEvent(doc, event));
    }
    this._changed.emit();
    if (ended) {
      // REST has the final ranking, best point and reasons
      this.fetch(event.run_id)
        .then(final => this._finished.emit(final))
        .catch(() => undefined);
    }
  }

  private _runs: IRunSummary[] = [];
  private _docs = new Map<string, IRun>();
  private _warnings: string[] = [];
  private _changed = new Signal<this, void>(this);
  private _finished = new Signal<this, IRun>(this);
}
