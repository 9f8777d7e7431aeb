/**
 * The leaderboard by keyboard and on a 10,000-point run: rows are focusable and Enter opens
 * a point, headers are buttons whose aria-sort follows the server's sort, only the rows in
 * view are in the DOM while the run scrolls from its best point to its last, long ids are
 * cut with a tooltip, and nothing scrolls sideways but the table.
 *
 * The run is written into the server's store by tests/bigrun.py (the rows a finished local
 * run leaves: every 7th point failed, every 11th skipped, score = x) rather than run on
 * 10,000 kernels; jupyter_server_test_config.py says where that store is.
 */
import { expect, test } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { shot } from './lab';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON =
  process.env.MVDP_PYTHON || path.join(ROOT, '.venv', 'bin', 'python');
// tests/bigrun.py's run: 10,000 points, of them 779 skipped (folded into one row)
const SHOWN = 9221;
const SKIPPED = 779;

test.use({ autoGoto: true, viewport: { width: 1440, height: 900 } });

/** Store the 10,000-point run in the server's run store; its id. */
function storeBigRun(): string {
  const port = process.env.MVDP_UI_PORT || '8888';
  const where = JSON.parse(
    fs.readFileSync(path.join(os.tmpdir(), `mvdp-ui-${port}.json`), 'utf-8')
  );
  const out = execFileSync(
    PYTHON,
    ['-m', 'tests.bigrun', where.db, where.root, `big-${Date.now()}`],
    { cwd: ROOT, encoding: 'utf-8' }
  );
  return JSON.parse(out).run_id;
}

test('the leaderboard of a 10,000-point run, by keyboard', async ({ page }) => {
  const runId = storeBigRun();
  await page.evaluate(
    id =>
      (window as any).jupyterapp.commands.execute('mvdp:open-run', {
        runId: id
      }),
    runId
  );
  const run = page.locator(`.jp-mvdp-runView[data-run="${runId}"]`);
  const board = run.locator('.jp-mvdp-leaderboard');
  const rows = board.locator('tr.jp-mvdp-point[data-point]');
  await expect(rows.first()).toBeVisible();

  // virtualized: every row counted for assistive technology, few in the DOM
  await expect(board).toHaveAttribute('aria-rowcount', String(SHOWN + 2));
  expect(await rows.count()).toBeLessThan(80);
  await expect(rows.first().locator('.jp-mvdp-rank')).toHaveText(/^1=?$/);

  // long ids: cut with an ellipsis, whole in the tooltip
  const id = rows.first().locator('.jp-mvdp-pointId');
  await expect(id).toHaveAttribute('title', (await id.textContent())!);

  // keyboard: focus a row, Enter opens it, arrows move, Enter opens the next
  await rows.first().focus();
  await page.keyboard.press('Enter');
  const details = run.locator('.jp-mvdp-details');
  const firstId = await rows.first().getAttribute('data-point');
  await expect(details).toContainText(firstId!);
  await expect(rows.first()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('ArrowDown');
  const second = board.locator('tr[data-row="1"]');
  await expect(second).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(details).toContainText(
    (await second.getAttribute('data-point'))!
  );
  await shot(run, '11-leaderboard-keyboard');

  // headers are buttons; aria-sort follows the server's sort, toggled by keyboard
  const rankHead = board.locator('th', { hasText: '#' });
  const xHead = board.locator('th', {
    has: page.getByRole('button', { name: 'x', exact: true })
  });
  await expect(rankHead).toHaveAttribute('aria-sort', 'ascending');
  await expect(xHead).toHaveAttribute('aria-sort', 'none');
  await xHead.getByRole('button').focus();
  await page.keyboard.press('Enter');
  await expect(xHead).toHaveAttribute('aria-sort', 'descending');
  await expect(rankHead).toHaveAttribute('aria-sort', 'none');
  const xOf = (row: Locator) => row.locator('td.jp-mvdp-num').first();
  await expect(xOf(rows.first())).toHaveText('99');
  await page.keyboard.press('Enter');
  await expect(xHead).toHaveAttribute('aria-sort', 'ascending');
  await expect(xOf(rows.first())).toHaveText('0');

  // scrolled to its end: the last points, then the folded skipped ones, still few rows
  const scroller = run.locator('.jp-mvdp-leaderboardScroll');
  await scroller.evaluate(el => {
    el.scrollTop = el.scrollHeight;
  });
  const fold = board.locator('.jp-mvdp-skippedRow');
  await expect(fold).toContainText(`${SKIPPED} points skipped`);
  await expect(board.locator(`tr[data-row="${SHOWN - 1}"]`)).toHaveAttribute(
    'data-point',
    /^p-/
  );
  await expect(xOf(board.locator(`tr[data-row="${SHOWN - 1}"]`))).toHaveText(
    '99'
  );
  expect(await rows.count()).toBeLessThan(80);
  // the fold opens by keyboard too, and its rows page in
  await fold.focus();
  await page.keyboard.press('Enter');
  await expect(fold.getByRole('button')).toHaveAttribute(
    'aria-expanded',
    'true'
  );
  await scroller.evaluate(el => {
    el.scrollTop = el.scrollHeight;
  });
  await expect(
    board.locator(`tr[data-row="${SHOWN + SKIPPED}"].jp-mvdp-state-skipped`)
  ).toBeVisible();
  await shot(run, '12-leaderboard-big-run-end');

  // only the table scrolls sideways, never the run view (1440 px, sidebar open)
  const overflow = await run.evaluate(el => el.scrollWidth - el.clientWidth);
  expect(overflow).toBeLessThanOrEqual(1);
});
