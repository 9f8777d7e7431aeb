/**
 * Bayesian optimization in a real browser: the grid's ranges as the search space, the
 * optimize strategy with its sampler in the panel, a run on the local target, and the run
 * view's history (each point's metric in order, the best so far) and Optuna's importance.
 */
import { expect, test } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

test.use({ autoGoto: true, viewport: { width: 1440, height: 900 } });

async function range(
  panel: Locator,
  name: string,
  start: string,
  stop: string
) {
  await panel.getByLabel(`${name} mode`).selectOption('range');
  await panel.getByLabel(`${name} start`).fill(start);
  await panel.getByLabel(`${name} stop`).fill(stop);
  await panel.getByLabel(`${name} range kind`).selectOption('num');
  await panel.getByLabel(`${name} count`).fill('2');
}

test('optimize searches the ranges and shows its history and importance', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadFile(
    path.join(ROOT, 'tests', 'notebooks', 'optimize', 'branin.ipynb'),
    `${tmpPath}/branin.ipynb`
  );
  await page.notebook.openByPath(`${tmpPath}/branin.ipynb`);
  await page.notebook.activate('branin.ipynb');
  await (page as Page).evaluate(() =>
    (window as any).jupyterapp.commands.execute('mvdp:open-panel')
  );
  const panel = page.locator('#jp-mvdp-panel');
  await expect(panel).toBeVisible();
  await range(panel, 'x', '-5', '10');
  await range(panel, 'y', '0', '15');
  await panel.getByLabel('strategy', { exact: true }).selectOption('optimize');
  await panel.getByLabel('metric', { exact: true }).fill('value');
  await panel.getByLabel('goal', { exact: true }).selectOption('min');
  await panel.getByLabel('budget', { exact: true }).fill('8');
  const sampler = panel.getByLabel('sampler', { exact: true });
  await expect(sampler).toHaveValue('tpe');
  await expect(sampler.locator('option')).toHaveText(['tpe', 'random']);
  await expect(panel.locator('.jp-mvdp-optimizeNote')).toContainText(
    'a range is searched'
  );
  await expect(panel.locator('.jp-mvdp-productionize')).toBeEnabled();
  await panel.locator('.jp-mvdp-productionize').click();
  const history = page.locator('.jp-mvdp-optimize');
  await expect(history).toContainText('after 8 of 8 points (tpe)', {
    timeout: 240000
  });
  // the history and the importance, drawn by JupyterLab's Vega-Lite renderer
  await expect(history.locator('.jp-mvdp-vega svg')).toHaveCount(2, {
    timeout: 30000
  });
});
