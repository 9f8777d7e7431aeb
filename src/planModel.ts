/**
 * The sidebar's state and its REST calls: the active notebook's parameters, the plan form,
 * server validation, targets and Productionize. The plan lives in the notebook: a valid plan
 * the user edits is written to `metadata.mvdp.plan` (saved with the notebook's own save) and
 * restored from there when the notebook becomes active.
 */
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import {
  api,
  IFieldError,
  IParameter,
  IPlan,
  ITarget,
  IValidation
} from './api';
import {
  buildPlan,
  canonical,
  formFromPlan,
  IAxisEditor,
  initialForm,
  IPlanForm,
  IStrategyForm
} from './model';
import { IOutputProvenance, outputProvenance } from './outputs';
import { executionChoices, formField, IExecutionChoices } from './policy';
import { MvdpRequestError } from './request';
import { RunsModel } from './runsModel';
import { IPlanSettings, METADATA_KEY } from './tokens';

export const errorText = (e: any): string =>
  e instanceof MvdpRequestError ? e.message : String(e?.message ?? e);

export class PlanModel {
  constructor(
    tracker: INotebookTracker,
    readonly runs: RunsModel,
    private settings: IPlanSettings
  ) {
    this.target = settings.defaultTarget;
    tracker.currentChanged.connect((_, panel) => this._follow(panel), this);
    // a finished run may have recorded new metrics: offer them at once
    runs.finished.connect(() => this._loadMetrics(), this);
    this._follow(tracker.currentWidget);
    api
      .targets()
      .then(targets => {
        this.targets = targets;
        this._changed.emit();
      })
      .catch(e => this._fail(e));
  }

  path: string | null = null;
  parameters: IParameter[] | null = null;
  parametersError: string | null = null;
  noParametersCell = false;
  metrics: string[] = [];
  form: IPlanForm = initialForm();
  validation: IValidation | null = null;
  targets: ITarget[] = [];
  target: string;
  busy = false;
  submitError: string | null = null;
  /** Bumped when the form is replaced as a whole (another notebook, a restored plan). */
  generation = 0;
  /** Productionize was asked for with errors left: every field shows its error. */
  revealErrors = false;
  /** The active notebook is a run's output (its `metadata.mvdp` names the run): not offered. */
  outputOf: IOutputProvenance | null = null;

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The plan and the errors found without the server. */
  get built(): ReturnType<typeof buildPlan> | null {
    return this.parameters ? buildPlan(this.form, this.parameters) : null;
  }

  /** Errors by field: local ones, then the server's. */
  get fieldErrors(): { [field: string]: string } {
    const errors = { ...(this.built?.errors ?? {}) };
    for (const e of this.validation?.errors ?? []) {
      errors[formField(e.field) || 'plan'] = e.message;
    }
    return errors;
  }

  /** The chosen target, and what its policy lets the form offer. */
  get chosenTarget(): ITarget | undefined {
    return this.targets.find(t => t.name === this.target);
  }

  get choices(): IExecutionChoices {
    return executionChoices(this.chosenTarget?.policy);
  }

  get valid(): boolean {
    const built = this.built;
    return (
      !!built &&
      Object.keys(built.errors).length === 0 &&
      this.validation?.valid === true
    );
  }

  /** Re-read the notebook's parameters (after tagging a cell). */
  refresh(): void {
    this._loadParameters();
  }

  setAxis(name: string, axis: IAxisEditor): void {
    this._edit({ ...this.form, axes: { ...this.form.axes, [name]: axis } });
  }

  setStrategy(key: keyof IStrategyForm, value: any): void {
    this._edit({
      ...this.form,
      strategy: { ...this.form.strategy, [key]: value }
    });
  }

  setField(
    key: Exclude<keyof IPlanForm, 'axes' | 'strategy' | 'notify' | 'files'>,
    value: string
  ): void {
    this._edit({ ...this.form, [key]: value });
  }

  /** The plan's `files` (the rows of the files editor, empty rows included). */
  setFiles(files: string[]): void {
    this._edit({ ...this.form, files });
  }

  /** What the server warns of on the chosen target (e.g. a file read but not shipped). */
  get warnings(): IFieldError[] {
    return this.validation?.warnings ?? [];
  }

  setTarget(target: string): void {
    this.target = target;
    this._validate(); // what a target allows (its policy) and delivers (notify) differ
  }

  /** Show every field's error (Productionize pressed while the plan is not ready). */
  reveal(): void {
    this.revealErrors = true;
    this._changed.emit();
  }

  /** Submit the plan; the new run joins the runs model. */
  async productionize(): Promise<string | null> {
    const built = this.built;
    if (!this.path || !built) {
      return null;
    }
    this.busy = true;
    this.submitError = null;
    this._changed.emit();
    try {
      const run = await api.productionize(this.path, built.plan, this.target);
      this.runs.add(run);
      return run.run_id;
    } catch (e) {
      this.submitError = errorText(e);
      return null;
    } finally {
      this.busy = false;
      this._changed.emit();
    }
  }

  dispose(): void {
    clearTimeout(this._timer);
    Signal.clearData(this);
  }

  private _follow(panel: NotebookPanel | null): void {
    this._panel = panel;
    this.path = panel?.context.path ?? null;
    this.form = initialForm();
    this.generation++;
    this.revealErrors = false;
    this.outputOf = null;
    this._edited = false;
    this.validation = null;
    this.parameters = null;
    this._changed.emit();
    if (!panel) {
      return;
    }
    void panel.context.ready.then(() => {
      if (this._panel !== panel) {
        return;
      }
      this.outputOf = outputProvenance(panel.model?.getMetadata(METADATA_KEY));
      if (this.outputOf) {
        this._changed.emit();
        return;
      }
      const saved = this._savedPlan();
      if (saved) {
        this.form = formFromPlan(saved);
        this.generation++;
      }
      this._loadParameters();
    });
  }

  private _savedPlan(): IPlan | null {
    const meta = this._panel?.model?.getMetadata(METADATA_KEY) as any;
    return meta?.plan ?? null;
  }

  private _loadParameters(): void {
    const path = this.path;
    this.parameters = null;
    this.parametersError = null;
    this.noParametersCell = false;
    this._changed.emit();
    if (!path) {
      return;
    }
    api
      .parameters(path)
      .then(doc => {
        if (path === this.path) {
          this.parameters = doc.parameters;
          this._validate();
        }
      })
      .catch(e => {
        if (path !== this.path) {
          return;
        }
        if (e instanceof MvdpRequestError && e.error === 'NoParametersCell') {
          this.noParametersCell = true;
        } else {
          this.parametersError = errorText(e);
        }
        this._changed.emit();
      });
    this._loadMetrics();
  }

  /** The metrics earlier runs of the notebook recorded (the metric field offers them). */
  private _loadMetrics(): void {
    const path = this.path;
    if (!path || this.outputOf) {
      return;
    }
    api
      .metrics(path)
      .then(metrics => {
        if (path === this.path) {
          this.metrics = metrics;
          this._changed.emit();
        }
      })
      .catch(() => undefined);
  }

  private _edit(form: IPlanForm): void {
    this.form = form;
    this._edited = true;
    this._validate();
  }

  /** Validate on the server (debounced); a valid plan the user edited goes to the metadata. */
  private _validate(): void {
    clearTimeout(this._timer);
    this.validation = null;
    this._changed.emit();
    const built = this.built;
    const path = this.path;
    if (!path || !built || Object.keys(built.errors).length) {
      return;
    }
    this._timer = setTimeout(() => {
      api
        .validate(path, built.plan, this.target)
        .then(validation => {
          if (
            path !== this.path ||
            canonical(this.built?.plan) !== canonical(built.plan)
          ) {
            return;
          }
          this.validation = validation;
          if (validation.valid && this._edited) {
            this._store(built.plan);
          }
          this._changed.emit();
        })
        .catch(e => this._fail(e));
    }, this.settings.validationDelay);
  }

  private _store(plan: IPlan): void {
    const model = this._panel?.model;
    if (!model || canonical(this._savedPlan()) === canonical(plan)) {
      return;
    }
    const meta = (model.getMetadata(METADATA_KEY) as any) ?? {};
    model.setMetadata(METADATA_KEY, { ...meta, plan });
  }

  private _fail(e: any): void {
    this.submitError = errorText(e);
    this._changed.emit();
  }

  private _panel: NotebookPanel | null = null;
  private _edited = false;
  private _timer: any;
  private _changed = new Signal<this, void>(this);
}
