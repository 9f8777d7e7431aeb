/**
 * The whole flow in a real browser: tag the parameters cell from the cell toolbar, define a
 * grid and a strategy in the MVDP panel, productionize on the local target, follow the run in
 * the main area (leaderboard, log in place, plot, heatmap), the notifications, the plan kept
 * in the notebook across a reload, a panel that fits its width, Light and Dark themes.
 *
 * Screenshots go to test-results/screenshots (ignored); `jlpm screenshots` writes them to
 * ui-tests/screenshots instead, the ones the README shows.
 */
import { expect, galata, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { upload, showPanel, openPanel, values, shot, reloadLab } from './lab';

test.use({ autoGoto: true, viewport: { width: 1440, height: 900 } });

/** The panel is not wider than its box: nothing to scroll sideways. */
async function fits(panel: Locator): Promise<void> {
  const [scroll, client] = await panel.evaluate(el => [
    el.scrollWidth,
    el.clientWidth
  ]);
  expect(scroll).toBeLessThanOrEqual(client);
}

test('tag, define a 6-point grid, productionize locally, follow it in the main area', async ({
  page,
  tmpPath
}) => {
  test.slow(); // the whole flow with a 6-point run: more time on a busy machine
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
  panel = await showPanel(page);
  await expect(panel.locator('.jp-mvdp-axis')).toHaveCount(6);
  await expect(
    panel.locator('.jp-mvdp-axis[data-parameter="max_depth"]')
  ).toContainText('int');
  await shot(page.locator('.jp-Cell.jp-mvdp-parametersCell'), '2-tagged-cell');

  await values(panel, 'n_estimators', '1, 10, 100');
  await values(panel, 'max_depth', '2, 4');
  await panel.getByLabel('metric', { exact: true }).fill('accuracy');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('6 points');
  const button = panel.locator('.jp-mvdp-productionize');
  await expect(button).toBeEnabled();
  await shot(panel, '3-grid-defined');

  // the run opens in the main area
  await button.click();
  const run = page.locator('.jp-mvdp-runView');
  await expect(run.locator('.jp-mvdp-point')).toHaveCount(6);
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: 'Run titanic.ipynb' })
  ).toBeVisible();
  await expect(
    run.locator('.jp-mvdp-point.jp-mvdp-state-running').first()
  ).toBeVisible({ timeout: 60000 });
  await shot(run, '4-running');

  // close the run while it runs: the notification of its end has an action reopening it
  await page
    .locator('.lm-TabBar-tab', { hasText: 'Run titanic.ipynb' })
    .locator('.lm-TabBar-tabCloseIcon')
    .click();
  await expect(run).toHaveCount(0);
  const toast = page.locator('.Toastify__toast', {
    hasText: 'Run of titanic.ipynb finished: 6 succeeded, 0 failed'
  });
  await toast
    .getByRole('button', { name: 'Open run' })
    .click({ timeout: 180000 });
  await expect(run.locator('.jp-mvdp-runHeader .jp-mvdp-state')).toHaveText(
    'success'
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-success')).toHaveCount(
    6
  );

  // parameters first, point id last, one format per column, the best row marked
  const headers = run.locator('.jp-mvdp-leaderboard th');
  await expect(headers).toHaveText([
    '#',
    'n_estimators',
    'max_depth',
    'accuracy',
    'f1',
    'state',
    'point'
  ]);
  await expect(run.locator('.jp-mvdp-best')).toHaveCount(1);
  const accuracies = await run
    .locator('.jp-mvdp-point td.jp-mvdp-metric')
    .allTextContents();
  expect(new Set(accuracies.map(a => a.split('.')[1]?.length)).size).toBe(1);
  // two swept parameters: a heatmap; n_estimators spans two decades: a log axis
  await expect(run.getByLabel('plot parameter')).toHaveValue('(heatmap)');
  await expect(
    run.locator('.jp-mvdp-vega canvas, .jp-mvdp-vega svg').first()
  ).toBeVisible();
  await shot(run, '5-leaderboard-and-plot');
  // the generated DAG, read only
  await run.getByText('Generated DAG').click();
  await expect(run.locator('.jp-mvdp-dagSource')).toContainText(
    'Grid search of'
  );
  await run.getByText('Generated DAG').click();
  await run.getByLabel('plot parameter').selectOption('n_estimators');
  await expect(
    run.locator('.jp-mvdp-vega canvas, .jp-mvdp-vega svg').first()
  ).toBeVisible();

  // a point's worker log in place, then its output notebook
  const first = run.locator('.jp-mvdp-point').first();
  const id = await first.locator('.jp-mvdp-pointId').textContent();
  await first.click();
  await run.locator('.jp-mvdp-showLog').click();
  await expect(run.locator('.jp-mvdp-log')).not.toBeEmpty();
  await shot(run, '6-point-log');
  await first.click(); // fold it again

  // Compare: nbdime's diff of the last point's output notebook with the best one's
  const last = run.locator('.jp-mvdp-point').last();
  const lastId = await last.locator('.jp-mvdp-pointId').textContent();
  await last.click();
  await run.getByRole('button', { name: 'Compare with the best' }).click();
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: `↔ ${lastId}` })
  ).toBeVisible();
  const diff = page.frameLocator('.jp-mvdp-compare iframe');
  await expect(diff.locator('.jp-Notebook-diff')).toBeVisible();
  // papermill's timings are not a difference: the changed cells only (the parameters)
  await expect(
    diff.locator('.jp-Cell-diff:not(.jp-Diff-unchanged)').first()
  ).toBeVisible();
  await shot(page.locator('.jp-mvdp-compare'), '7-compare');
  await page
    .locator('.lm-TabBar-tab', { hasText: 'Run titanic.ipynb' })
    .click();
  // ... or with any other point of the run: here the first row
  await run.getByLabel('compare with').selectOption(id!);
  await run.getByRole('button', { name: 'Compare', exact: true }).click();
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: `${lastId} ↔ ${id}` })
  ).toBeVisible();
  await expect(
    page
      .frameLocator(
        '.jp-MainAreaWidget:not(.lm-mod-hidden) .jp-mvdp-compare iframe'
      )
      .locator('.jp-Notebook-diff')
  ).toBeVisible();
  await page
    .locator('.lm-TabBar-tab', { hasText: 'Run titanic.ipynb' })
    .click();
  await last.click();
  await first.click(); // the best point's details again

  // Light and Dark themes stay readable
  await shot(run, 'theme-light');
  await page.theme.setDarkTheme();
  await shot(run, 'theme-dark');
  await page.theme.setLightTheme();

  await run.getByText('Open output notebook').click();
  await expect(
    page.locator('.lm-TabBar-tab', { hasText: `${id}.ipynb` })
  ).toBeVisible();
});

test('the plan lives in the notebook: a reload restores it', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, true);
  let panel = await openPanel(page, notebook);
  await values(panel, 'n_estimators', '10, 50');
  await panel.getByLabel('max_depth mode').selectOption('range');
  await panel.getByLabel('max_depth start').fill('2');
  await panel.getByLabel('max_depth stop').fill('6');
  await panel.getByLabel('max_depth step').fill('2');
  await panel
    .getByLabel('strategy', { exact: true })
    .selectOption('early_stop');
  await panel.getByLabel('metric', { exact: true }).fill('accuracy');
  await panel.getByLabel('stop at', { exact: true }).fill('0.8');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('6 points');
  await expect(panel.locator('.jp-mvdp-productionize')).toBeEnabled();
  // the valid plan went into the notebook's metadata: the notebook's own save writes it
  await page.notebook.save();
  const saved = await page.request.get(`/api/contents/${notebook}?content=1`);
  expect((await saved.json()).content.metadata.mvdp.plan).toEqual({
    grid: {
      n_estimators: [10, 50],
      max_depth: { start: 2, stop: 6, step: 2 }
    },
    strategy: {
      kind: 'early_stop',
      metric: 'accuracy',
      goal: 'max',
      target: 0.8
    }
  });

  await reloadLab(page);
  // the layout restored the notebook: activate it rather than open it again
  await page.notebook.activate('titanic.ipynb');
  panel = await showPanel(page);
  await expect(panel.getByLabel('n_estimators values')).toHaveValue('10, 50');
  await expect(panel.getByLabel('max_depth step')).toHaveValue('2');
  await expect(panel.getByLabel('strategy', { exact: true })).toHaveValue(
    'early_stop'
  );
  await expect(panel.getByLabel('metric', { exact: true })).toHaveValue(
    'accuracy'
  );
  await expect(panel.getByLabel('stop at', { exact: true })).toHaveValue('0.8');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('6 points');
  await shot(panel, 'plan-restored');
});

test('the panel fits the default sidebar width and 600 px', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, true);
  const panel = await openPanel(page, notebook);
  await values(panel, 'criterion', 'gini, entropy, log_loss');
  await values(panel, 'data_path', '"datasets/titanic.csv"');
  await panel.getByLabel('n_estimators mode').selectOption('range');
  await panel.getByLabel('n_estimators range kind').selectOption('num');
  await panel.locator('summary').click();
  await fits(panel);
  await shot(panel, 'panel-default-width');
  await page.sidebar.setWidth(600, 'right');
  await expect
    .poll(async () => (await panel.boundingBox())?.width ?? 0)
    .toBeGreaterThan(550);
  await fits(panel);
  await shot(panel, 'panel-600px');
});

test('early stopping folds the skipped points; the run tab survives a reload', async ({
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
  await panel.getByLabel('stop at', { exact: true }).fill('0.5');
  await panel.locator('summary').click();
  await panel.getByLabel('parallelism').fill('2');
  await expect(panel.locator('.jp-mvdp-size')).toHaveText('8 points');
  await panel.locator('.jp-mvdp-productionize').click();
  const run = page.locator('.jp-mvdp-runView');
  await expect(run.locator('.jp-mvdp-runHeader .jp-mvdp-state')).toHaveText(
    'success',
    { timeout: 180000 }
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-success')).toHaveCount(
    2
  );
  await expect(run.locator('.jp-mvdp-skippedRow')).toContainText(
    '6 points skipped'
  );
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-skipped')).toHaveCount(
    0
  );
  await expect(run).toContainText('reached the target 0.5');
  await shot(run, '8-early-stop-skipped');
  await run.locator('.jp-mvdp-skippedRow').click();
  await expect(run.locator('.jp-mvdp-point.jp-mvdp-state-skipped')).toHaveCount(
    6
  );

  // the run's tab comes back with the layout (REST is the source of truth)
  await reloadLab(page);
  const restored = page.locator('.jp-mvdp-runView');
  await expect(restored.locator('.jp-mvdp-skippedRow')).toContainText(
    '6 points skipped',
    { timeout: 60000 }
  );
  const reloaded = await showPanel(page);
  await expect(reloaded.locator('.jp-mvdp-run').first()).toContainText(
    'success'
  );
});

test('a canary alert is announced with an action opening the run', async ({
  page,
  tmpPath
}) => {
  const notebook = await upload(page, tmpPath, true);
  const panel = await openPanel(page, notebook);
  await values(panel, 'n_estimators', '5');
  await panel.getByLabel('strategy', { exact: true }).selectOption('canary');
  await panel.getByLabel('metric', { exact: true }).fill('accuracy');
  await panel.getByLabel('baseline', { exact: true }).fill('0.99');
  await expect(panel.locator('.jp-mvdp-productionize')).toBeEnabled();
  await panel.locator('.jp-mvdp-productionize').click();
  const toast = page.locator('.Toastify__toast', {
    hasText: 'Canary alert on titanic.ipynb'
  });
  await expect(toast).toBeVisible({ timeout: 120000 });
  await page
    .locator('.lm-TabBar-tab', { hasText: 'Run titanic.ipynb' })
    .locator('.lm-TabBar-tabCloseIcon')
    .click();
  await toast.getByRole('button', { name: 'Open run' }).click();
  await expect(page.locator('.jp-mvdp-outcome-alert')).toContainText(
    'Alert, not deployed'
  );
});

test('a point that failed once and passed on its retry lists its tries', async ({
  page,
  tmpPath
}) => {
  // a notebook whose first run of a point fails (it leaves a marker), the retry passes
  const code = (id: string, source: string, tags: string[] = []) => ({
    cell_type: 'code',
    id,
    metadata: { tags },
    source,
    outputs: [],
    execution_count: null
  });
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      },
      language_info: { name: 'python' }
    },
    cells: [
      code('params', 'x = 1', ['parameters']),
      code(
        'flaky',
        [
          'import pathlib',
          "marker = pathlib.Path(f'flaky-{x}.tried')",
          'if not marker.exists():',
          '    marker.touch()',
          "    raise RuntimeError('the first try fails')"
        ].join('\n')
      )
    ]
  };
  const local = path.join(
    fs.mkdtempSync(path.join(os.tmpdir(), 'mvdp-')),
    'flaky.ipynb'
  );
  fs.writeFileSync(local, JSON.stringify(nb));
  await page.contents.uploadFile(local, `${tmpPath}/flaky.ipynb`);
  await page.notebook.openByPath(`${tmpPath}/flaky.ipynb`);
  await page.notebook.activate('flaky.ipynb');
  const panel = await showPanel(page);
  await panel.locator('summary').click();
  await panel.getByLabel('retries', { exact: true }).fill('1');
  await panel.locator('.jp-mvdp-productionize').click();
  const run = page.locator('.jp-mvdp-runView');
  await expect(run.locator('.jp-mvdp-runHeader .jp-mvdp-state')).toHaveText(
    'success',
    { timeout: 120000 }
  );
  await run.locator('.jp-mvdp-point').first().click();
  const tries = run.locator('.jp-mvdp-tries li');
  await expect(tries).toHaveCount(2);
  await expect(tries.nth(0)).toContainText('try 1: failed after');
  await expect(tries.nth(0)).toContainText('the first try fails');
  await expect(tries.nth(1)).toContainText('try 2: success');
  await shot(run, '10-retried-point');
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
  await shot(panel, '9-bad-value');
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
  await shot(panel, '10-target-down');
});

void galata;
