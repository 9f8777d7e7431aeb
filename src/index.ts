import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { requestAPI } from './request';
import { PLUGIN_ID } from './tokens';

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Productionize notebooks: grid, early stopping and canary pipelines.',
  autoStart: true,
  activate: (app: JupyterFrontEnd) => {
    requestAPI<any>('targets').catch(reason => {
      console.error(`jupyter-mvdp: ${reason.message}`);
    });
  }
};

export default plugin;
