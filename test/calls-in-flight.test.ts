// A call in flight on a connection that no longer keeps the process alive (Node's HTTP/2 losing the
// server's close, src/client/calls-in-flight.ts) ends as a dropped connection the caller can explain,
// not as "the work stopped before it finished".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';

test('an upload whose connection stops keeping the process alive fails as a dropped connection', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  await sandbox.startServer();
  const config = await sandbox.writeNodeConfig('node1', [`include = ${sandbox.root}`]);
  const result = await runNode(join(__dirname, 'support', 'unreferenced-connection-client.js'), [config], 60_000);
  const output = `${result.stdout}${result.stderr}`;
  assert.match(result.stdout, /^unreferenced 1 connection\(s\)$/m, output);
  assert.doesNotMatch(output, /internal error/, 'not a process that stopped mid-work');
  assert.match(result.stdout, /^the call failed: the connection to the backup server at 127\.0\.0\.1:\d+ dropped: /m, output);
  assert.equal(result.code, 7, output);
});

test('a main() that nothing can settle still ends as an internal error, after the grace turns', () => {
  const exitWith = join(__dirname, '..', 'src', 'cli', 'exit-with.js');
  const result = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(exitWith)}).exitWith(new Promise(() => {}), 'stuck')`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(result.status, 1, result.stderr);
  assert.match(result.stderr, /^stuck: internal error: the work stopped before it finished \(nothing left could complete it\); it did not complete$/m);
});
