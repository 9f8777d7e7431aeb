/**
 * An A/B test in a real browser: variants A and B set side by side in the panel, run on the
 * local target, and the run view's verdict in words, both variants' distributions and the
 * difference with its interval.
 */
import { expect, test } from '@jupyterlab/galata';
import { Page } from '@playwright/test';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

test.use({ autoGoto: true, viewport: { width: 1440, height: 900 } });

test('an A/B test finds the better variant and shows why', async ({
  page,
  tmpPath
}) => {
  await page.contents.uploadFile(
    path.join(ROOT, 'tests', 'notebooks', 'ab', 'effect.ipynb'),
    `${tmpPath}/effect.ipynb`
  );
  await page.notebook.openByPath(`${tmpPath}/effect.ipynb`);
  await page.notebook.activate('effect.ipynb');
  await (page as Page).evaluate(() =>
    (window as any).jupyterapp.commands.execute('mvdp:open-panel')
  );
  const panel = page.locator('#jp-mvdp-panel');
  await expect(panel).toBeVisible();
  await panel.getByLabel('noise mode').selectOption('values');
  await panel.getByLabel('noise values').fill('0.1');
  await panel.getByLabel('strategy', { exact: true }).selectOption('ab');
  await panel.getByLabel('metric', { exact: true }).fill('score');
  await panel.getByLabel('replicate parameter', { exact: true }).fill('seed');
  await panel.getByLabel('replicates', { exact: true }).fill('6');
  // a value that is not the parameter's type is named by its row, at once
  await panel.getByLabel('B effect', { exact: true }).fill('"big"');
  await expect(panel.locator('.jp-mvdp-abFields')).toContainText('b.effect:');
  await panel.getByLabel('B effect', { exact: true }).fill('1.0');
  await panel.getByLabel('A label', { exact: true }).fill('"a"');
  await expect(panel.locator('.jp-mvdp-abFields .jp-mvdp-error')).toHaveCount(
    0
  );
  await expect(panel.locator('.jp-mvdp-productionize')).toBeEnabled();
  await panel.locator('.jp-mvdp-productionize').click();
  const verdict = page.locator('.jp-mvdp-abVerdict');
  await expect(verdict).toContainText('B is better than A', {
    timeout: 180000
  });
  await expect(
    page.locator('.Toastify__toast', {
      hasText: 'A/B test of effect.ipynb: B better'
    })
  ).toBeVisible();
  await expect(verdict).toContainText('6 pairs');
  await expect(verdict).toContainText('exact sign-flip permutation test');
  await expect(page.locator('.jp-mvdp-abVariants')).toContainText('effect=1');
  // both distributions and the difference, drawn by JupyterLab's Vega-Lite renderer
  await expect(page.locator('.jp-mvdp-ab .jp-mvdp-vega svg')).toHaveCount(2, {
    timeout: 30000
  });
});
