// Proves the growth rule both CLIs set at start (common/heap-headroom.ts): a fixed room above a small
// live set, about twice a big one, never more than V8's own largest factor. Child processes keep a
// live set and make garbage that outlives young collections (so it is promoted, then dies), turning
// the event loop between rounds as the real processes do. And a factor an operator gives on node's
// command line is left alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { growingPercentFor, HEADROOM_BYTES } from '../src/common/heap-headroom';

const moduleFile = join(__dirname, '..', 'src', 'common', 'heap-headroom.js');
const MIB = 1024 * 1024;

/**
 * liveCount small objects kept; rounds of batchSize garbage objects, each batch held for 20 rounds;
 * prints the old space's peak and the full collections.
 */
function churn(liveCount: number, batchSize: number, rounds: number): string {
  return `
const v8 = require('node:v8');
const { PerformanceObserver, constants } = require('node:perf_hooks');
const { setImmediate: turn } = require('node:timers/promises');
require(${JSON.stringify(moduleFile)}).keepHeapHeadroom();
let majors = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
}).observe({ entryTypes: ['gc'] });
(async () => {
  const live = [];
  for (let i = 0; i < ${liveCount}; i++) live.push({ a: i, b: 'live-' + i, c: [i, i + 1] });
  const recent = [];
  let maxOld = 0;
  for (let round = 0; round < ${rounds}; round++) {
    const batch = [];
    for (let i = 0; i < ${batchSize}; i++) batch.push({ x: round, y: i, z: [round, i] });
    recent.push(batch);
    if (recent.length > 20) recent.shift();
    await turn();
    if (round % 25 === 0) maxOld = Math.max(maxOld, v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_size);
  }
  setTimeout(() => process.stdout.write(Math.round(maxOld / ${MIB}) + ' ' + majors + ' ' + live.length), 100);
})();
`;
}

function run(nodeFlags: string[], liveCount: number, batchSize = 5000, rounds = 800): { oldMiB: number; majors: number } {
  const output = execFileSync(process.execPath, [...nodeFlags, '-e', churn(liveCount, batchSize, rounds)], { encoding: 'utf8' });
  const [oldMiB, majors, kept] = output.split(' ').map(Number);
  assert.equal(kept, liveCount);
  return { oldMiB, majors };
}

test('the growth percent leaves the headroom above a small live set, twice a big one, at most V8 own factor 4', () => {
  assert.equal(growingPercentFor(HEADROOM_BYTES), 100);
  assert.equal(growingPercentFor(4 * HEADROOM_BYTES), 100, 'a big heap still gets twice itself');
  assert.equal(growingPercentFor(16 * MIB), Math.round((100 * HEADROOM_BYTES) / (16 * MIB)));
  assert.equal(growingPercentFor(12 * MIB), 267);
  assert.equal(growingPercentFor(MIB), 300, 'a tiny heap gets no more than V8 itself may give');
  assert.equal(growingPercentFor(0), 300);
});

test('the old generation stays bounded where V8 own factor lets it grow', (context) => {
  // The control: V8's own factor (a 0 on the command line is "unset" to V8, and makes the module keep
  // out). It depends on V8's speed estimates; on a machine where it stays low the test proves nothing.
  // About 30 MiB live and 10 MiB of garbage held: the rule gives 2.1 times that, V8 up to 4 (178 vs 109 MiB here).
  const liveCount = 200_000;
  const unbounded = run(['--heap-growing-percent=0'], liveCount);
  if (unbounded.oldMiB <= 130) {
    context.skip(`V8's own growth stayed at ${unbounded.oldMiB} MiB here: the rule cannot be told from it`);
    return;
  }
  const bounded = run([], liveCount);
  // Relative to the control: on a loaded machine marking lags and both overshoot.
  assert.ok(bounded.oldMiB <= unbounded.oldMiB * 0.8, `old space reached ${bounded.oldMiB} MiB with the rule, ${unbounded.oldMiB} without`);
});

test('after each full collection the factor follows what survived it: the headroom over a small heap, twice a big one', () => {
  const script = `
const { setTimeout: sleep } = require('node:timers/promises');
const headroom = require(${JSON.stringify(moduleFile)}).keepHeapHeadroom();
const percents = [headroom.percent];
async function collected() {
  gc();
  await sleep(50); // the gc entry reaches the observer after the collection
  percents.push(headroom.percent);
}
(async () => {
  await collected();
  // On globalThis: a local that is never read again is no root to the collector.
  globalThis.live = [];
  for (let i = 0; i < 1500000; i++) globalThis.live.push({ a: i, b: [i] }); // about 80 MiB that survive
  await collected();
  globalThis.live = undefined;
  await collected();
  process.stdout.write(JSON.stringify(percents));
})();
`;
  const [atStart, small, big, smallAgain] = JSON.parse(execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' })) as number[];
  assert.equal(atStart, 100, 'twice the survivors until a full collection has said what survives');
  assert.ok(small > 200 && small <= 300, `a few MiB live: ${small} %`);
  assert.equal(big, 100, 'about 80 MiB live: twice it');
  assert.ok(smallAgain > 200, `after the live set went: ${smallAgain} %`);
});

test('a growth factor given on the command line wins, in either spelling', () => {
  const ruled = run([], 200_000);
  for (const flag of ['--heap-growing-percent=600', '--heap_growing_percent=600']) {
    const given = run([flag], 200_000);
    assert.ok(given.oldMiB > ruled.oldMiB * 1.3, `${flag}: old space peaked at ${given.oldMiB} MiB, ${ruled.oldMiB} with the rule: the module overrode the command line`);
  }
});
