/** A run in the main area: one MainAreaWidget per run, tracked so the layout restores it. */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { runTitle } from '../runLabels';
import { IRunViewOptions } from '../tokens';
import { RunView } from './RunView';

export class RunWidget extends MainAreaWidget<ReactWidget> {
  constructor(
    readonly runId: string,
    options: IRunViewOptions & { icon: LabIcon }
  ) {
    const content = ReactWidget.create(
      <RunView
        runId={runId}
        runs={options.runs}
        rendermime={options.rendermime}
        onOpenOutput={options.onOpenOutput}
        onCompare={options.onCompare}
        onOpenHistory={options.onOpenHistory}
      />
    );
    content.addClass('jp-mvdp-runContent');
    super({ content });
    this.id = `jp-mvdp-run-${runId}`;
    const label = () => {
      const run = options.runs.get(runId);
      this.title.label = run ? runTitle(run) : `Run ${runId}`;
    };
    label();
    options.runs.changed.connect(label, this);
    this.title.caption = `MVDP run ${runId}`;
    this.title.icon = options.icon;
    this.title.closable = true;
  }
}
