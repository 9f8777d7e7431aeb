/** Identifiers shared by the plugins of jupyter-mvdp. */
export const PLUGIN_ID = 'jupyter-mvdp:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const toggleParametersCell = 'mvdp:toggle-parameters-cell';
  export const openPanel = 'mvdp:open-panel';
  export const viewDag = 'mvdp:view-dag';
  export const openRun = 'mvdp:open-run';
  export const compare = 'mvdp:compare';
}

/** The papermill tag of the parameters cell. */
export const PARAMETERS_TAG = 'parameters';

/** The event schema the server emits run status with (jupyter_mvdp/event_schemas/run/v1.yaml). */
export const RUN_EVENT_SCHEMA =
  'https://events.jupyter.org/jupyter_mvdp/run/v1';
