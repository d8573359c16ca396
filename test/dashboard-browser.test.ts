// Proves the dashboard renders in a real headless Chromium after real backups: one row per
// client with its state, one SVG chart per backed-up client with its points and bars, the token
// taken from #token=; saves test-artifacts/dashboard.png. Skipped where /usr/bin/chromium is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { chromium, type Browser } from 'playwright-core';
import { Sandbox, type CommandResult } from './support/sandbox';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');
const token = 'dashboard-test-token-0123456789';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} not found; run scripts/install-browser.sh`;
if (skip) console.log(`# dashboard-browser: skipped: ${skip}`);

function exited(result: CommandResult, code: number, what: string): CommandResult {
  assert.equal(result.code, code, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

test('dashboard in headless Chromium: client rows with states, size charts, screenshot', { skip }, async (t) => {
  const sandbox = await Sandbox.create({ clients: ['app1', 'db1', 'new-node'] });
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await sandbox.destroy();
  });
  await sandbox.rewriteServerConfig(['keep = 10', `status_token = ${token}`]);
  const server = await sandbox.startServer();
  const url = /status on (http:\S+)/.exec(server.log())![1];

  // app1: three backups growing, the last one unusually big (anomaly); db1: two backups, then a failed one.
  const appData = join(sandbox.root, 'app-data');
  await mkdir(appData);
  const appConfig = await sandbox.writeNodeConfig('app1', [`include = ${appData}`]);
  for (let round = 1; round <= 3; round++) {
    for (let index = 0; index < 4; index++) await writeFile(join(appData, `round-${round}-${index}.bin`), randomBytes(round === 3 ? 900_000 : 120_000));
    exited(await sandbox.runClient(['-c', appConfig, '-e']), 0, `app1 -e ${round}`);
  }
  const dbData = join(sandbox.root, 'db-data');
  await mkdir(dbData);
  const storage = join(sandbox.root, 'storage.conf');
  await writeFile(storage, '');
  const dbConfig = await sandbox.writeNodeConfig('db1', [`include = ${dbData}`, `storage_conf = ${storage}`]);
  for (let round = 1; round <= 2; round++) {
    await writeFile(join(dbData, `table-${round}.sql`), randomBytes(300_000));
    exited(await sandbox.runClient(['-c', dbConfig, '-e']), 0, `db1 -e ${round}`);
  }
  await writeFile(storage, ['source = main', 'kind = command', `dump = sh -c 'echo "connection refused" >&2; exit 2'`, 'load = cat > /dev/null', ''].join('\n'));
  assert.notEqual((await sandbox.runClient(['-c', dbConfig, '-e'])).code, 0, 'db1 third backup fails');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));

  // Without the token the page loads but says why it has no data.
  await page.goto(`${url}/`);
  await page.waitForSelector('#error', { state: 'visible' });
  assert.match(await page.textContent('#error') ?? '', /Cannot load the status: status: .*Bearer/);

  await page.goto(`${url}/#token=${token}`);
  await page.reload();
  await page.waitForSelector('body[data-loaded="true"]');
  const rows = await page.$$eval('tr.client-row', (elements) => elements.map((element) => [
    element.getAttribute('data-client'), element.getAttribute('data-state'), element.querySelector('.anomaly') !== null,
  ]));
  assert.deepEqual(rows, [['app1', 'ok', true], ['db1', 'failed', false], ['new-node', 'never', false]]);
  const failureText = await page.textContent('tr[data-client="db1"] .reason');
  assert.match(failureText ?? '', /failed .* ago: client aborted the backup: dump source main/);

  const charts = await page.$$eval('svg.chart', (elements) => elements.map((svg) => ({
    client: svg.getAttribute('data-client'),
    lines: svg.querySelectorAll('polyline.size-line').length,
    points: svg.querySelectorAll('circle.size-point').length,
    anomalous: svg.querySelectorAll('circle.anomalous').length,
    bars: svg.querySelectorAll('rect.new-bar').length,
    width: svg.getBoundingClientRect().width,
  })));
  assert.deepEqual(charts.map(({ client, lines, points, anomalous, bars }) => ({ client, lines, points, anomalous, bars })), [
    { client: 'app1', lines: 1, points: 3, anomalous: 1, bars: 3 },
    { client: 'db1', lines: 1, points: 2, anomalous: 0, bars: 2 },
  ]);
  assert.ok(charts.every((chart) => chart.width > 300), 'charts are drawn at a readable size');
  const cards = await page.$$eval('.card .label', (elements) => elements.map((element) => element.textContent));
  assert.deepEqual(cards, ['Clients', 'Backups kept', 'On disk', 'Logical size', 'Dedup ratio', 'Compression']);
  assert.deepEqual(pageErrors, []);

  await mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  console.log(`# dashboard screenshot: ${join(ARTIFACTS, 'dashboard.png')}`);
});
