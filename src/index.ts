import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { IDocumentManager } from '@jupyterlab/docmanager';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon, ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import mvdpSvg from '../style/icons/mvdp.svg';
import parametersSvg from '../style/icons/parameters.svg';
import { DagView } from './components/DagView';
import { createCompareWidget } from './mainviews/compareWidget';
import { HistoryWidget } from './mainviews/historyWidget';
import { RunWidget } from './mainviews/runWidget';
import { announceRuns } from './notifications';
import { openOutput } from './outputs';
import { outputLabel } from './runLabels';
import { MvdpPanel } from './panel';
import { PlanModel } from './planModel';
import { requestAPI } from './request';
import { RunsModel } from './runsModel';
import {
  CommandIDs,
  IPlanSettings,
  PANEL_ID,
  PARAMETERS_CELL_CLASS,
  PARAMETERS_TAG,
  PLUGIN_ID,
  RUN_NAMESPACE
} from './tokens';

export const mvdpIcon = new LabIcon({ name: 'mvdp:panel', svgstr: mvdpSvg });
export const parametersIcon = new LabIcon({
  name: 'mvdp:parameters',
  svgstr: parametersSvg
});

const tagsOf = (cell: Cell): string[] =>
  (cell.model.getMetadata('tags') as string[] | undefined) ?? [];

/** Mark the parameters cell of a notebook (a CSS class the style draws). */
function markParametersCell(panel: NotebookPanel | null): void {
  for (const cell of panel?.content.widgets ?? []) {
    cell.toggleClass(
      PARAMETERS_CELL_CLASS,
      tagsOf(cell).includes(PARAMETERS_TAG)
    );
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Productionize notebooks: grid, early stopping and canary pipelines on Airflow or locally.',
  autoStart: true,
  requires: [INotebookTracker, IRenderMimeRegistry],
  optional: [
    ICommandPalette,
    ISettingRegistry,
    ILabShell,
    ILayoutRestorer,
    IDocumentManager
  ],
  activate: async (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    palette: ICommandPalette | null,
    settingRegistry: ISettingRegistry | null,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    docManager: IDocumentManager | null
  ) => {
    const settings: IPlanSettings = {
      defaultTarget: 'local',
      validationDelay: 300
    };
    if (settingRegistry) {
      try {
        const loaded = await settingRegistry.load(PLUGIN_ID);
        const read = () => {
          settings.defaultTarget = loaded.get('defaultTarget')
            .composite as string;
          settings.validationDelay = loaded.get('validationDelay')
            .composite as number;
        };
        read();
        loaded.changed.connect(read);
      } catch (reason) {
        console.warn('jupyter-mvdp: settings not loaded', reason);
      }
    }

    const runs = new RunsModel(app.serviceManager.events);
    const model = new PlanModel(tracker, runs, settings);
    const openRun = (runId: string) =>
      void app.commands.execute(CommandIDs.openRun, { runId });
    const panel = new MvdpPanel({
      model,
      openRun,
      tagActiveCell: () =>
        void app.commands.execute(CommandIDs.toggleParametersCell)
    });
    panel.id = PANEL_ID;
    panel.title.icon = mvdpIcon;
    panel.title.caption = 'MVDP: productionize this notebook';
    app.shell.add(panel, 'right', { rank: 600 });

    app.commands.addCommand(CommandIDs.openPanel, {
      label: 'Open the MVDP panel',
      icon: mvdpIcon,
      execute: () => app.shell.activateById(panel.id)
    });

    app.commands.addCommand(CommandIDs.toggleParametersCell, {
      label: args => (args.toolbar ? '' : 'Toggle Parameters Cell'),
      caption: "Tag this cell as the notebook's papermill parameters cell",
      icon: args => (args.toolbar ? parametersIcon : undefined),
      isEnabled: () => tracker.activeCell?.model.type === 'code',
      isToggled: () =>
        !!tracker.activeCell &&
        tagsOf(tracker.activeCell).includes(PARAMETERS_TAG),
      execute: async () => {
        const notebook = tracker.currentWidget;
        const active = tracker.activeCell;
        if (!notebook || !active || active.model.type !== 'code') {
          return;
        }
        const tagging = !tagsOf(active).includes(PARAMETERS_TAG);
        let moved = 0;
        for (const cell of notebook.content.widgets) {
          const tags = tagsOf(cell);
          const has = tags.includes(PARAMETERS_TAG);
          if (cell === active) {
            cell.model.setMetadata(
              'tags',
              tagging
                ? [...tags, PARAMETERS_TAG]
                : tags.filter(t => t !== PARAMETERS_TAG)
            );
          } else if (tagging && has) {
            cell.model.setMetadata(
              'tags',
              tags.filter(t => t !== PARAMETERS_TAG)
            );
            moved++;
          }
        }
        if (moved) {
          Notification.info(
            'The parameters tag moved to this cell: papermill uses one parameters cell.',
            { autoClose: 4000 }
          );
        }
        markParametersCell(notebook);
        app.commands.notifyCommandChanged(CommandIDs.toggleParametersCell);
        await notebook.context.save();
        panel.refresh();
      }
    });

    const runWidgets = new WidgetTracker<RunWidget>({
      namespace: RUN_NAMESPACE
    });
    restorer?.restore(runWidgets, {
      command: CommandIDs.openRun,
      args: widget => ({ runId: widget.runId }),
      name: widget => widget.runId
    });
    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open an MVDP run',
      execute: async args => {
        const runId = args.runId as string;
        let widget = runWidgets.find(w => w.runId === runId);
        if (!widget) {
          widget = new RunWidget(runId, {
            runs,
            rendermime,
            icon: mvdpIcon,
            onOpenOutput: path =>
              docManager
                ? openOutput(docManager, path)
                : void app.commands.execute('docmanager:open', { path }),
            onCompare: (base, remote) =>
              void app.commands.execute(CommandIDs.compare, { base, remote }),
            onOpenHistory: pipeline =>
              void app.commands.execute(CommandIDs.openHistory, { pipeline })
          });
          void runWidgets.add(widget);
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        return widget;
      }
    });

    announceRuns(runs, openRun, pipeline =>
      app.commands.execute(CommandIDs.openHistory, { pipeline })
    );

    const histories = new WidgetTracker<HistoryWidget>({
      namespace: 'mvdp-history'
    });
    restorer?.restore(histories, {
      command: CommandIDs.openHistory,
      args: widget => ({ pipeline: widget.pipeline }),
      name: widget => widget.pipeline
    });
    app.commands.addCommand(CommandIDs.openHistory, {
      label: args =>
        args.pipeline ? `History of ${args.pipeline}` : 'Pipeline history',
      execute: args => {
        const pipeline = args.pipeline as string;
        let widget = histories.find(w => w.pipeline === pipeline);
        if (!widget) {
          widget = new HistoryWidget(pipeline, {
            runs,
            onOpenRun: openRun,
            icon: mvdpIcon
          });
          void histories.add(widget);
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(widget.id);
        return widget;
      }
    });

    app.commands.addCommand(CommandIDs.compare, {
      label: 'Compare two output notebooks (nbdime)',
      execute: args => {
        const [base, remote] = [args.base as string, args.remote as string];
        const widget = createCompareWidget(base, remote, mvdpIcon, {
          base: outputLabel(runs.documents, base),
          remote: outputLabel(runs.documents, remote)
        });
        app.shell.add(widget, 'main');
        return widget;
      }
    });

    app.commands.addCommand(CommandIDs.viewDag, {
      label: 'View the generated DAG',
      execute: args => {
        const runId = args.runId as string;
        const content = ReactWidget.create(
          React.createElement(DagView, { runId })
        );
        const widget = new MainAreaWidget({ content });
        widget.id = `jp-mvdp-dag-${runId}`;
        widget.title.label = `DAG ${args.pipeline ?? runId}`;
        widget.title.icon = mvdpIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
      }
    });

    palette?.addItem({
      command: CommandIDs.toggleParametersCell,
      category: 'MVDP'
    });
    palette?.addItem({ command: CommandIDs.openPanel, category: 'MVDP' });

    const follow = (nb: NotebookPanel) => {
      void nb.context.ready.then(() => {
        markParametersCell(nb);
        nb.content.model?.contentChanged.connect(() => markParametersCell(nb));
      });
    };
    tracker.forEach(follow);
    tracker.widgetAdded.connect((_, nb) => follow(nb));
    tracker.activeCellChanged.connect(() =>
      app.commands.notifyCommandChanged(CommandIDs.toggleParametersCell)
    );

    requestAPI<any>('targets').catch(reason => {
      console.error(`jupyter-mvdp: ${reason.message}`);
      Notification.warning(`MVDP: ${reason.message}`, { autoClose: 8000 });
    });
  }
};

export default plugin;
