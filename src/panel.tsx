/**
 * The MVDP sidebar: the active notebook's parameters and the plan editor (state in
 * PlanModel), Productionize, and the user's runs (each opens in the main area).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ActionBar } from './components/ActionBar';
import { RevealErrors } from './components/Field';
import { FilesForm } from './components/FilesForm';
import { OutputNotice } from './components/OutputNotice';
import { ParametersTable } from './components/ParametersTable';
import { RunsList } from './components/RunsList';
import { StrategyForm } from './components/StrategyForm';
import { TargetForm } from './components/TargetForm';
import { PlanModel } from './planModel';
import { useSignal } from './useSignal';

export interface IPanelOptions {
  model: PlanModel;
  /** Open a run in the main area. */
  openRun: (runId: string) => void;
  /** Tag the active cell as the parameters cell. */
  tagActiveCell: () => void;
}

export class MvdpPanel extends ReactWidget {
  constructor(private options: IPanelOptions) {
    super();
    this.addClass('jp-mvdp-panel');
  }

  /** Re-read the active notebook's parameters (after tagging). */
  refresh(): void {
    this.options.model.refresh();
  }

  render(): JSX.Element {
    return <PanelView {...this.options} />;
  }
}

function PanelView(props: IPanelOptions): JSX.Element {
  const { model } = props;
  useSignal(model.changed);
  // a restored plan replaces the form: remount its inputs
  const key = `${model.path}:${model.generation}`;
  return (
    <div className="jp-mvdp-body">
      <header className="jp-mvdp-header">
        <h2>Productionize</h2>
        <span className="jp-mvdp-notebook" title={model.path ?? ''}>
          {model.path ?? 'Open a notebook to productionize it.'}
        </span>
      </header>
      {model.parametersError && (
        <div className="jp-mvdp-error" role="alert">
          {model.parametersError}
        </div>
      )}
      {model.noParametersCell && (
        <section className="jp-mvdp-section jp-mvdp-noParameters">
          <p>
            This notebook has no <code>parameters</code> cell. Put the defaults
            of what you want to vary (<code>n_estimators = 100</code>, …) in one
            code cell and tag it.
          </p>
          <button className="jp-mvdp-button" onClick={props.tagActiveCell}>
            Tag the active cell as parameters
          </button>
        </section>
      )}
      {model.outputOf && (
        <OutputNotice output={model.outputOf} onOpenRun={props.openRun} />
      )}
      {model.parameters && (
        <RevealErrors.Provider value={model.revealErrors} key={key}>
          <ParametersTable model={model} />
          <StrategyForm model={model} />
          <FilesForm model={model} />
          <TargetForm model={model} />
          <ActionBar model={model} onSubmitted={props.openRun} />
        </RevealErrors.Provider>
      )}
      <RunsList runs={model.runs} onOpen={props.openRun} />
    </div>
  );
}
