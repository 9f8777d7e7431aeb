/**
 * The whole flow in a real browser: tag the parameters cell from the cell toolbar, define a
 * grid and a strategy in the MVDP panel, productionize on the local target, watch the states
 * arrive, read the leaderboard and the plot, open an output notebook. Screenshots of each
 * state are written to ui-tests/screenshots/ (shown in the README).
 */
import { expect, galata, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');
const SHOTS = path.resolve(__dirname, '..', 'screenshots');

test.use({ autoGoto: true, viewport: { width: 1440, height: 900 } });

/** Upload the Titanic example (untagged, so the test tags it) and its data. */
async function upload(
  page: any,
  tmpPath: string,
  tagged: boolean
): Promise<string> {
  const nb = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'notebooks', 'titanic.ipynb'), 'utf-8')
  );
  if (!tagged) {
    for (const cell of nb.cells) {
      delete cell.metadata.tags;
    }
  }
  const local = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'mvdp-')),
    'titanic.ipynb'
  );
  fs.writeFileSync(local, JSON.stringify(nb));
  await page.contents.uploadFile(local, `${tmpPath}/titanic.ipynb`);
  await page.contents.uploadFile(
    path.join(ROOT, 'notebooks', 'datasets', 'titanic.csv'),
    `${tmpPath}/datasets/titanic.csv`
  );
  return `${tmpPath}/titanic.ipynb`;
}

async function openPanel(page: Page & any, notebook: string): Promise<any> {
  await page.notebook.openByPath(notebook);
  await page.notebook.activate('titanic.ipynb');
  await page.sidebar.openTab('jp-mvdp-panel');
  const panel = page.locator('#jp-mvdp-panel');
  await expect(panel).toBeVisible();
  return panel;
}

async function values(panel: any, name: string, text: string): Promise<void> {
  await panel.getByLabel(`${name} mode`).selectOption('values');
  await panel.getByLabel(`${name} values`).fill(text);
}

async function shot(locator: any, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await locator.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

test('tag, define a 4-point grid, productionize locally, follow it live', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, false);
  let panel = await openPanel(page, notebook);
  await expect(panel.locator('.jp-mvdp-noParameters')).toContainText(
    'no parameters cell'
  );
  await shot(panel, '1-no-parameters-cell');

  // tag the parameters cell (index 2) from the cell toolbar (the notebook at full width, so
  // the toolbar does not overlap the cell's text and stays shown)
  await page.sidebar.close('right');
  await page.sidebar.close('left');
  await page.notebook.selectCells(2);
  const cell = page.locator('.jp-Notebook .jp-Cell').nth(2);
  await cell.hover();
  const toggle = cell.locator(
    '.jp-cell-toolbar [data-command="mvdp:toggle-parameters-cell"]'
  );
  await toggle.click();
  await expect(page.locator('.jp-Cell.jp-mvdp-parametersCell')).toHaveCount(1);
  await page.sidebar.openTab('jp-mvdp-panel');
  panel = page.locator('#jp-mvdp-panel');
  await expect(panel.locator('.jp-mvdp-axis')).toHaveCount(6);
  await expect(
    panel.locator('.jp-mvdp-axis[data-parameter="max_depth"]')
  ).toContainText('int');
  await shot(page.locator('.jp-Cell.jp-mvdp-parametersCell'), '2-tagged-cell');

  await values(panel, 'n_estimators', '10, 50');
  await values(panel, 'max_depth', '2, 4');
  await panel.getByLabel('metric', { exact: true }).fill('accuracy');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('4 points');
  const button = panel.locator('.jp-mvdp-productionize');
  await expect(button).toBeEnabled();
  await shot(panel, '3-grid-defined');

  await button.click();
  const run = panel.locator('.jp-mvdp-runView');
  await expect(run.locator('.jp-mvdp-point')).toHaveCount(4);
  await expect(
    run.locator('.jp-mvdp-point.jp-mvdp-state-running').first()
  ).toBeVisible({ timeout: 60000 });
  await shot(run, '4-running');
  await expect(run.locator('.jp-mvdp-runHeader .jp-mvdp-state')).toHaveText(
    'success',
    { timeout: 180000 }
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-success')).toHaveCount(
    4
  );
  await expect(run.locator('.jp-mvdp-leaderboard th')).toContainText([
    'accuracy'
  ]);
  await expect(run.locator('.jp-mvdp-best')).toHaveCount(1);
  await expect(
    run.locator('.jp-mvdp-vega canvas, .jp-mvdp-vega svg').first()
  ).toBeVisible();
  await shot(run, '5-leaderboard-and-plot');

  // a click on a point opens its output notebook
  const first = await run.locator('.jp-mvdp-point code').first().textContent();
  await run.locator('.jp-mvdp-point').first().click();
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: `${first}.ipynb` })
  ).toBeVisible();
});

test('early stopping skips the points it does not need', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, true);
  const panel = await openPanel(page, notebook);
  await values(panel, 'n_estimators', '10, 25');
  await values(panel, 'max_depth', '1, 2, 3, 4');
  await panel
    .getByLabel('strategy', { exact: true })
    .selectOption('early_stop');
  await panel.getByLabel('metric', { exact: true }).fill('accuracy');
  await panel.getByLabel('target', { exact: true }).fill('0.5');
  await panel.locator('summary').click();
  await panel.getByLabel('parallelism').fill('2');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('8 points');
  await panel.locator('.jp-mvdp-productionize').click();
  const run = panel.locator('.jp-mvdp-runView');
  await expect(run.locator('.jp-mvdp-runHeader .jp-mvdp-state')).toHaveText(
    'success',
    { timeout: 180000 }
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-success')).toHaveCount(
    2
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-skipped')).toHaveCount(
    6
  );
  await expect(run).toContainText('reached the target 0.5');

  // runs survive a page reload: a fresh page of the lab lists them (REST is the source of truth)
  const fresh = await page.context().newPage();
  await fresh.goto(page.url());
  await fresh.waitForSelector('#jp-mvdp-panel', {
    state: 'attached',
    timeout: 60000
  });
  const freshPanel = fresh.locator('#jp-mvdp-panel');
  if (!(await freshPanel.isVisible())) {
    await fresh.locator('.lm-TabBar-tab[data-id="jp-mvdp-panel"]').click();
  }
  const reloaded = freshPanel.locator('.jp-mvdp-run').first();
  await expect(reloaded).toContainText('success');
  await reloaded.locator('button').click();
  await expect(
    freshPanel.locator('.jp-mvdp-point.jp-mvdp-state-skipped')
  ).toHaveCount(6);
  await fresh.close();
  await shot(run, '6-early-stop-skipped');
});

test('a bad grid value shows an inline error and Productionize stays disabled', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, true);
  const panel = await openPanel(page, notebook);
  await values(panel, 'n_estimators', '10, ten');
  await expect(
    panel.locator(
      '.jp-mvdp-axis[data-parameter="n_estimators"] .jp-mvdp-fieldError'
    )
  ).toHaveText('ten is not an int');
  await expect(panel.locator('.jp-mvdp-productionize')).toBeDisabled();
  await shot(panel, '7-bad-value');
});

test('a target that is down shows its error', async ({ page, tmpPath }) => {
  const notebook = await upload(page, tmpPath, true);
  const panel = await openPanel(page, notebook);
  await panel.getByLabel('target to run on').selectOption('prod-airflow');
  await expect(panel.locator('.jp-mvdp-warning').first()).toContainText(
    'Cannot reach Airflow'
  );
  await values(panel, 'max_depth', '2');
  await panel.locator('.jp-mvdp-productionize').click();
  await expect(panel.locator('.jp-mvdp-submitError')).toHaveText(
    'Cannot reach Airflow at http://127.0.0.1:9'
  );
  await expect(panel).not.toContainText('not-a-real-secret');
  await shot(panel, '8-target-down');
});

void galata;
