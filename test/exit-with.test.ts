// A CLI whose main() still waits when nothing is left to wake it must not end with exit 0: Node
// would, and a backup or restore would then "succeed" without finishing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const EXIT_WITH = resolve(__dirname, '..', 'src', 'cli', 'exit-with.js');

function runMain(body: string): { status: number | null; stderr: string } {
  const script = `require(${JSON.stringify(EXIT_WITH)}).exitWith((async () => { ${body} })(), 'probe');`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stderr: result.stderr };
}

test('main() awaiting a promise nothing can settle exits 1 with an internal error, not 0', () => {
  const drained = runMain('await new Promise(() => undefined); return 0;');
  assert.equal(drained.status, 1);
  assert.match(drained.stderr, /probe: internal error: the work stopped before it finished/);
});

test('main() awaiting an unreferenced timer (a worker-like wait) exits 1, not 0', () => {
  const drained = runMain('await new Promise((resolve) => setTimeout(resolve, 60_000).unref()); return 0;');
  assert.equal(drained.status, 1);
});

test('main() that finishes exits with its own code; one that throws exits 1', () => {
  assert.equal(runMain('await new Promise((resolve) => setTimeout(resolve, 10)); return 3;').status, 3);
  assert.equal(runMain('return 0;').status, 0);
  const thrown = runMain('throw new Error("boom");');
  assert.equal(thrown.status, 1);
  assert.match(thrown.stderr, /probe: internal error: Error: boom/);
});

// Regression: the grace turns were counted over the whole process, so the fourth time a 'beforeExit'
// listener rescued the loop (CallsInFlight ending the calls of a lost connection) was reported as
// "the work stopped before it finished" and exit 1, although the rescue had settled main() as before.
test('every rescue of an empty loop gets its own grace: five rescues in one process still exit with main()\'s code', () => {
  const rescued = runMain(`
    for (let rescue = 0; rescue < 5; rescue++) {
      // Only a listener of the empty loop can settle this wait, as CallsInFlight does for a lost connection.
      await new Promise((resolve) => process.once('beforeExit', () => setTimeout(resolve, 20)));
    }
    return 0;`);
  assert.equal(rescued.stderr, '');
  assert.equal(rescued.status, 0);
  // The given-back turns do not hide a loop that is stuck after its rescues.
  const stuckAfter = runMain(`
    for (let rescue = 0; rescue < 5; rescue++) {
      await new Promise((resolve) => process.once('beforeExit', () => setTimeout(resolve, 20)));
    }
    await new Promise(() => undefined);
    return 0;`);
  assert.equal(stuckAfter.status, 1);
  assert.match(stuckAfter.stderr, /probe: internal error: the work stopped before it finished/);
});

// Regression: the grace was given back whenever the loop listed any resource, and stderr's pipe stays
// listed once written to although it keeps no loop alive: a stuck CLI that had printed anything spun
// between 'beforeExit' and its grace turn for ever, at full CPU, instead of exiting 1.
test('a stuck main() that wrote to stdout and stderr (pipes) still exits 1, not spin', () => {
  const stuck = runMain(`
    process.stdout.write('progress\\n');
    process.stderr.write('a warning\\n');
    await new Promise(() => undefined);
    return 0;`);
  assert.equal(stuck.status, 1, `exit ${stuck.status} (null: killed after 30 s, still running)`);
  assert.match(stuck.stderr, /^a warning\n.*probe: internal error: the work stopped before it finished/s);
});
