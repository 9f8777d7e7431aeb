/** A pipeline's history in the main area: one MainAreaWidget per pipeline. */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { RunsModel } from '../runsModel';
import { HistoryView } from './HistoryView';

export class HistoryWidget extends MainAreaWidget<ReactWidget> {
  constructor(
    readonly pipeline: string,
    options: {
      runs: RunsModel;
      onOpenRun: (runId: string) => void;
      icon: LabIcon;
    }
  ) {
    const content = ReactWidget.create(
      <HistoryView
        pipeline={pipeline}
        runs={options.runs}
        onOpenRun={options.onOpenRun}
      />
    );
    super({ content });
    this.id = `jp-mvdp-history-${pipeline}`;
    this.title.label = `History ${pipeline}`;
    this.title.caption = `MVDP pipeline ${pipeline}: every run and champion`;
    this.title.icon = options.icon;
    this.title.closable = true;
  }
}
