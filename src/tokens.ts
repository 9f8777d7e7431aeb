/** Identifiers and interfaces shared by the plugin, the sidebar and the main-area views. */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import type { RunsModel } from './runsModel';

export const PLUGIN_ID = 'jupyter-mvdp:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const toggleParametersCell = 'mvdp:toggle-parameters-cell';
  export const openPanel = 'mvdp:open-panel';
  export const viewDag = 'mvdp:view-dag';
  export const openRun = 'mvdp:open-run';
  export const compare = 'mvdp:compare';
  export const openHistory = 'mvdp:open-history';
}

/** The id of the MVDP sidebar. */
export const PANEL_ID = 'jp-mvdp-panel';

/** The layout restorer's namespace of the run widgets. */
export const RUN_NAMESPACE = 'mvdp-run';

/** The papermill tag of the parameters cell. */
export const PARAMETERS_TAG = 'parameters';

/** The class of the cell tagged `parameters` (the style draws it). */
export const PARAMETERS_CELL_CLASS = 'jp-mvdp-parametersCell';

/** The notebook metadata key holding the plan (`metadata.mvdp.plan`). */
export const METADATA_KEY = 'mvdp';

/** The event schema the server emits run status with (jupyter_mvdp/event_schemas/run/v2.yaml). */
export const RUN_EVENT_SCHEMA =
  'https://events.jupyter.org/jupyter_mvdp/run/v2';

/** The plugin's settings the plan editor reads (schema/lab/plugin.json). */
export interface IPlanSettings {
  defaultTarget: string;
  validationDelay: number;
}

/** What a run's main-area view needs: the runs, a renderer for plots, and two actions. */
export interface IRunViewOptions {
  runs: RunsModel;
  rendermime: IRenderMimeRegistry;
  /** Open a point's output notebook. */
  onOpenOutput: (path: string) => void;
  /** Compare two output notebooks (nbdime). */
  onCompare: (base: string, remote: string) => void;
  /** Open a pipeline's history (every run, whoever started it, and its champions). */
  onOpenHistory?: (pipeline: string) => void;
}
