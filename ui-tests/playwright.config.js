/**
 * Galata in Debian's Chromium (Playwright's own browser download cannot work here).
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// another port than 8888 lets several checkouts run their browser tests side by side
const PORT = process.env.MVDP_UI_PORT || '8888';

module.exports = {
  ...baseConfig,
  timeout: 180 * 1000,
  expect: { timeout: 60 * 1000, toMatchSnapshot: { maxDiffPixelRatio: 0.05 } },
  workers: 1,
  retries: 0,
  reporter: [['list'], ['html', { open: 'never' }]],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${PORT}`,
    video: 'off',
    trace: 'off',
    launchOptions: {
      executablePath: process.env.MVDP_CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run'
      ]
    }
  },
  webServer: {
    command: `jlpm start --ServerApp.port=${PORT}`,
    url: `http://localhost:${PORT}/lab`,
    timeout: 120 * 1000,
    reuseExistingServer: !process.env.CI
  }
};
