// Regression (security review): every GET /status and /metrics walked the whole store (lstat of each file),
// any number at once, and anyone local may send them. Now concurrent requests share one walk, whose
// figures are reused until status_figures_max_age; /status says when they were measured and how old they are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import type { StatusReport } from '../src/server/status/status-report';

const MAX_AGE_SECONDS = 2;

async function statusOf(url: string): Promise<StatusReport> {
  const response = await fetch(`${url}/status`);
  assert.equal(response.status, 200);
  return (await response.json()) as StatusReport;
}

async function metricOf(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

test('concurrent /status and /metrics share one store walk; after status_figures_max_age the figures are measured again', async (t) => {
  const sandbox = await Sandbox.create({ serverLines: [`status_figures_max_age = ${MAX_AGE_SECONDS}s`] });
  t.after(() => sandbox.destroy());
  const server = await sandbox.startServer();
  const url = /cpsbackup-server status on (http:\/\/\S+)/.exec(server.log())![1];

  const reports = await Promise.all([
    ...Array.from({ length: 40 }, () => statusOf(url)),
    ...Array.from({ length: 10 }, () => metricOf(url, 'cpsbackup_store_disk_bytes').then(() => undefined)),
  ]);
  const measured = reports.filter((report): report is StatusReport => report !== undefined);
  const firstMeasuredAt = measured[0].store.measuredAt;
  assert.ok(Number.isFinite(Date.parse(firstMeasuredAt)), `store.measuredAt is a time: ${firstMeasuredAt}`);
  assert.deepEqual(new Set(measured.map((report) => report.store.measuredAt)), new Set([firstMeasuredAt]), 'one walk for all fifty requests');
  for (const report of measured) {
    assert.equal(report.store.ageSeconds, (Date.parse(report.generatedAt) - Date.parse(firstMeasuredAt)) / 1000, 'the age is generatedAt - measuredAt');
  }

  // Within the age the figure is reused, and says how old it is.
  const cached = await statusOf(url);
  assert.equal(cached.store.measuredAt, firstMeasuredAt, 'within the age: no new walk');
  assert.equal(cached.store.ageSeconds, (Date.parse(cached.generatedAt) - Date.parse(firstMeasuredAt)) / 1000);
  assert.ok((await metricOf(url, 'cpsbackup_store_figures_age_seconds'))! >= 0);

  // The store grows; past the age the next request measures it again.
  const data = join(sandbox.root, 'data');
  await mkdir(data);
  await writeFile(join(data, 'grow.bin'), randomBytes(2 * 1024 * 1024));
  const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
  const backup = await sandbox.runClient(['-c', config, '-e']);
  assert.equal(backup.code, 0, backup.stderr);
  const remainingMs = Date.parse(firstMeasuredAt) + MAX_AGE_SECONDS * 1000 - Date.now();
  if (remainingMs > 0) await new Promise((resolve) => setTimeout(resolve, remainingMs + 50));
  const fresh = await statusOf(url);
  assert.notEqual(fresh.store.measuredAt, firstMeasuredAt, 'past the age: measured again');
  assert.ok(fresh.store.ageSeconds < 1, `a new walk for this request (${fresh.store.ageSeconds} s old)`);
  assert.equal(fresh.store.backups, 1);
  const du = Number(execFileSync('du', ['-s', '-B1', sandbox.storeDirectory]).toString().split('\t')[0]);
  assert.equal(fresh.store.diskBytes, du);
});
