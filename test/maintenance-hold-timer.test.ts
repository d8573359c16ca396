// The collection set for the end of an interrupted backup's hold (maintenance.ts collectWhenHoldsEnd),
// on a real store: it runs once the hold has ended; a collection that fails sets no new one (the ended
// hold stays, and a timer set from it ran a failing collection every second, each logged with its stack);
// and none runs once the server is stopping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Maintenance } from '../src/server/maintenance';
import type { ServerConfig } from '../src/common/config/server-config';
import type { ClientRegistrySource } from '../src/server/clients/live-client-registry';
import type { Logger } from '../src/common/logger';
import { addFile, bytesOf, openStoreFixture } from './support/store-fixture';

/** Retention is never asked for here: the maintenance's configuration and clients are not read. */
const UNUSED_CONFIG = {} as ServerConfig;
const UNUSED_CLIENTS = {} as ClientRegistrySource;

function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const note = (text: string): void => { lines.push(text); };
  return { logger: { info: note, warn: note, error: note }, lines };
}

async function storeWithEndedHold(t: test.TestContext): Promise<Awaited<ReturnType<typeof openStoreFixture>>> {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 0 });
  t.after(() => fixture.destroy());
  const session = await fixture.store.beginBackup('node1', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/interrupted.bin', await bytesOf('interrupted', 100_000));
  await session.abandon(new Error('the client went away'));
  assert.ok(fixture.store.nextHoldExpiry() !== undefined, 'the abandoned backup\'s chunks are held');
  return fixture;
}

test('the end of an interrupted backup\'s hold starts a collection that takes its chunks', async (t) => {
  const fixture = await storeWithEndedHold(t);
  const { logger, lines } = recordingLogger();
  const maintenance = new Maintenance(fixture.store, UNUSED_CONFIG, logger, UNUSED_CLIENTS);
  t.after(() => maintenance.stop());
  maintenance.collectAtStart();
  for (let wait = 0; wait < 100 && !lines.some((line) => /^gc: [1-9]/.test(line)); wait++) await sleep(50);
  assert.ok(lines.some((line) => /^gc: [1-9]\d* chunks/.test(line)), lines.join('\n'));
  assert.equal(fixture.store.nextHoldExpiry(), undefined, 'no hold left');
});

test('a collection that fails before its sweep sets the next one for the hold it could not end a backoff later, not at once', async (t) => {
  const fixture = await storeWithEndedHold(t);
  const { logger, lines } = recordingLogger();
  let runs = 0;
  // The catalog's disk full, as a sweep's transaction meets it: the ended hold stays.
  fixture.store.collectGarbage = () => {
    runs++;
    return Promise.reject(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }));
  };
  const maintenance = new Maintenance(fixture.store, UNUSED_CONFIG, logger, UNUSED_CLIENTS);
  t.after(() => maintenance.stop());
  maintenance.collectAtStart();
  await sleep(3500);
  assert.equal(runs, 1, `${runs} collections in 3.5 s:\n${lines.join('\n')}`);
  assert.equal(lines.filter((line) => line.startsWith('gc failed')).length, 1);
  const due = maintenance.holdCollectionAt;
  assert.ok(due !== undefined && due - Date.now() > 50_000, `the next collection is due in ${due === undefined ? 'never' : due - Date.now()} ms`);
});

// Regression (third review): a collection that failed after its sweep (in compaction) set no collection
// at all, and the holds that ended later were never collected while the server ran.
test('a collection that fails after its sweep still sets one for the next hold to end', async (t) => {
  const fixture = await openStoreFixture({ resumeHoldSeconds: 3600 });
  t.after(() => fixture.destroy());
  const { logger } = recordingLogger();
  const collect = fixture.store.collectGarbage.bind(fixture.store);
  fixture.store.collectGarbage = async (options) => {
    await collect(options);
    throw Object.assign(new Error('ENOSPC: no space left on device, write (compaction)'), { code: 'ENOSPC' });
  };
  // An interrupted backup, whose hold ends an hour from now.
  const session = await fixture.store.beginBackup('node2', { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  await addFile(session, '/later.bin', await bytesOf('interrupted later', 100_000));
  await session.abandon(new Error('the client went away'));
  const maintenance = new Maintenance(fixture.store, UNUSED_CONFIG, logger, UNUSED_CLIENTS);
  t.after(() => maintenance.stop());
  await maintenance.collectGarbage().catch(() => undefined);
  assert.ok(maintenance.holdCollectionAt !== undefined, 'a collection is set for the hold left');
});

test('no collection is set once the server is stopping', async (t) => {
  const fixture = await storeWithEndedHold(t);
  const { logger } = recordingLogger();
  let runs = 0;
  const collect = fixture.store.collectGarbage.bind(fixture.store);
  fixture.store.collectGarbage = (options) => {
    runs++;
    return collect(options);
  };
  const maintenance = new Maintenance(fixture.store, UNUSED_CONFIG, logger, UNUSED_CLIENTS);
  maintenance.collectAtStart();
  await maintenance.stop();
  await sleep(1500);
  assert.equal(runs, 0);
});
