/**
 * What the browser tests share: the example uploaded as a test wants it, the MVDP panel
 * shown, a grid axis filled, a screenshot taken, the lab reloaded.
 */
import { expect } from '@jupyterlab/galata';
import { Locator, Page } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
const SHOTS = path.resolve(
  __dirname,
  '..',
  process.env.MVDP_SCREENSHOTS || path.join('test-results', 'screenshots')
);

/** Upload the Titanic example (untagged if asked, so the test tags it) and its data. */
export async function upload(
  page: any,
  tmpPath: string,
  tagged: boolean
): Promise<string> {
  const nb = JSON.parse(
    fs.readFileSync(path.join(ROOT, 'notebooks', 'titanic.ipynb'), 'utf-8')
  );
  // the test defines its own plan: not the one the example carries for the CLI
  delete nb.metadata.mvdp;
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

/** Show the MVDP sidebar through its command (also right after a reload restored it). */
export async function showPanel(page: Page): Promise<Locator> {
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute('mvdp:open-panel')
  );
  const panel = page.locator('#jp-mvdp-panel');
  await expect(panel).toBeVisible();
  return panel;
}

export async function openPanel(page: any, notebook: string): Promise<Locator> {
  await page.notebook.openByPath(notebook);
  await page.notebook.activate('titanic.ipynb');
  return showPanel(page);
}

export async function values(
  panel: Locator,
  name: string,
  text: string
): Promise<void> {
  await panel.getByLabel(`${name} mode`).selectOption('values');
  await panel.getByLabel(`${name} values`).fill(text);
}

export async function shot(locator: Locator, name: string): Promise<void> {
  fs.mkdirSync(SHOTS, { recursive: true });
  await locator.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Reload the lab; the restored layout has no active Launcher, which galata's wait expects. */
export async function reloadLab(page: any): Promise<void> {
  await page.reload({ waitForIsReady: false });
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
}
