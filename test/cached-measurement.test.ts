// The contract of CachedMeasurement (the status port's store walk): one measurement at a time shared by
// every caller meanwhile, reused until maxAge, measured again after it, and a failure never kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CachedMeasurement } from '../src/server/status/cached-measurement';

/** A measurement the test finishes when it chooses, counting how often it was started. */
function gatedMeasure(): { measure: () => Promise<number>; finish: (value: number | Error) => void; started: () => number } {
  let started = 0;
  const waiting: ((value: number | Error) => void)[] = [];
  return {
    measure: () => {
      started += 1;
      return new Promise<number>((resolve, reject) => waiting.push((value) => (value instanceof Error ? reject(value) : resolve(value))));
    },
    finish: (value) => waiting.shift()!(value),
    started: () => started,
  };
}

test('callers while a measurement runs share it; its result is reused until maxAge, then measured again', async () => {
  let now = 1_000_000;
  const gate = gatedMeasure();
  const cache = new CachedMeasurement(gate.measure, 30_000, () => now);
  const concurrent = Array.from({ length: 50 }, () => cache.current());
  assert.equal(gate.started(), 1, 'one measurement for fifty callers');
  gate.finish(42);
  const results = await Promise.all(concurrent);
  assert.ok(results.every((result) => result.value === 42 && result.measuredAt === 1_000_000));
  now += 29_999;
  assert.deepEqual(await cache.current(), { value: 42, measuredAt: 1_000_000 });
  assert.equal(gate.started(), 1, 'younger than maxAge: reused');
  now += 1;
  const later = cache.current();
  assert.equal(gate.started(), 2, 'as old as maxAge: measured again');
  gate.finish(43);
  assert.deepEqual(await later, { value: 43, measuredAt: 1_030_000 });
  assert.equal(cache.measurements, 2);
});

test('a failed measurement reaches its waiting callers and is not kept', async () => {
  const gate = gatedMeasure();
  const cache = new CachedMeasurement(gate.measure, 30_000);
  const waiting = [cache.current(), cache.current()];
  gate.finish(new Error('EACCES'));
  for (const result of waiting) await assert.rejects(result, /EACCES/);
  const retry = cache.current();
  assert.equal(gate.started(), 2, 'the next caller measures again');
  gate.finish(7);
  assert.equal((await retry).value, 7);
});

test('maxAge 0 measures per caller, still one at a time', async () => {
  const gate = gatedMeasure();
  const cache = new CachedMeasurement(gate.measure, 0);
  const first = [cache.current(), cache.current()];
  assert.equal(gate.started(), 1);
  gate.finish(1);
  await Promise.all(first);
  const second = cache.current();
  assert.equal(gate.started(), 2);
  gate.finish(2);
  assert.equal((await second).value, 2);
});

test('a measurement longer than maxAge is reused for maxAge after it ends, not followed by another at once', async () => {
  let now = 0;
  const gate = gatedMeasure();
  const cache = new CachedMeasurement(gate.measure, 30_000, () => now);
  const first = cache.current();
  now = 45_000; // a big store's walk
  gate.finish(9);
  assert.deepEqual(await first, { value: 9, measuredAt: 0 });
  now = 74_999;
  assert.equal((await cache.current()).value, 9);
  assert.equal(gate.started(), 1, 'a dashboard polling through the walk did not keep the store walked');
  now = 75_000;
  void cache.current();
  assert.equal(gate.started(), 2);
  gate.finish(10);
});

test('a measure() that throws at once is not kept: the next caller measures again', async () => {
  let calls = 0;
  const cache = new CachedMeasurement(() => {
    calls += 1;
    if (calls === 1) throw new Error('EMFILE');
    return Promise.resolve(calls);
  }, 30_000);
  await assert.rejects(cache.current(), /EMFILE/);
  assert.equal((await cache.current()).value, 2);
});
