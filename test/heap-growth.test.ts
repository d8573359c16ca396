// Proves the heap growth factor the server sets at start (server/heap-growth.ts) takes effect after
// start: a child process keeps a live set and makes garbage that outlives young collections, and its
// old generation peaks well below where it peaks with the growth V8 picks itself (about 100 vs 190 MiB here).
// And a factor an operator gives on node's command line is left alone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const moduleFile = join(__dirname, '..', 'src', 'server', 'heap-growth.js');
const BOUND_MIB = 140;

/** About 30 MiB live, and 800 rounds of garbage each held for 20 rounds (so it is promoted, then dies). */
const churn = `
const v8 = require('node:v8');
require(${JSON.stringify(moduleFile)}).setHeapGrowthFactor();
const live = [];
for (let i = 0; i < 200000; i++) live.push({ a: i, b: 'live-' + i, c: [i, i + 1] });
const recent = [];
let maxOld = 0;
for (let round = 0; round < 800; round++) {
  const batch = [];
  for (let i = 0; i < 5000; i++) batch.push({ x: round, y: i, z: [round, i] });
  recent.push(batch);
  if (recent.length > 20) recent.shift();
  if (round % 25 === 0) maxOld = Math.max(maxOld, v8.getHeapSpaceStatistics().find((space) => space.space_name === 'old_space').space_size);
}
process.stdout.write(String(Math.round(maxOld / 1048576)) + ' ' + live.length);
`;

function maxOldSpaceMiB(nodeFlags: string[]): number {
  const output = execFileSync(process.execPath, [...nodeFlags, '-e', churn], { encoding: 'utf8' });
  const [mebibytes, liveCount] = output.split(' ').map(Number);
  assert.equal(liveCount, 200_000);
  return mebibytes;
}

test('the old generation stays within about twice its live size once the factor is set', (context) => {
  // The control: V8's own factor (a 0 on the command line is "unset" to V8, and makes the module keep
  // out). It depends on V8's speed estimates; on a machine where it stays low the test proves nothing.
  const unbounded = maxOldSpaceMiB(['--heap-growing-percent=0']);
  if (unbounded <= BOUND_MIB) {
    context.skip(`V8's own growth stayed at ${unbounded} MiB here, within the bound: the factor cannot be told from it`);
    return;
  }
  const bounded = maxOldSpaceMiB([]);
  // Relative to the control, not absolute: on a loaded machine marking lags and both overshoot (153
  // and 252 MiB during the full suite, 100 and 190 alone). Half in theory; the same run twice differs by 10 %.
  assert.ok(bounded <= unbounded * 0.8, `old space reached ${bounded} MiB with the factor set, ${unbounded} without`);
});

test('a growth factor given on the command line wins, in either spelling', () => {
  for (const flag of ['--heap-growing-percent=300', '--heap_growing_percent=300']) {
    const mebibytes = maxOldSpaceMiB([flag]);
    assert.ok(mebibytes > BOUND_MIB, `${flag}: old space peaked at ${mebibytes} MiB: the module overrode the command line's factor of 4`);
  }
});
