// The contract of a stopping server's calls (src/server/running-calls.ts), without a server: a stop refuses
// new calls as "stopping", waits for running ones and names them, and past its timeout (or at cutNow) cuts
// those left with a worded status and marks them cut for their handlers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as grpc from '@grpc/grpc-js';
import { cutReasonOf, markCommitting, RunningCalls } from '../src/server/running-calls';

function recordingLogger(): { lines: string[]; info(line: string): void; warn(line: string): void; error(line: string): void } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(`info ${line}`), warn: (line) => lines.push(`warn ${line}`), error: (line) => lines.push(`error ${line}`) };
}

/** A streaming call as running-calls sees it: statuses go out through its 'error' event. */
function fakeCall(): { statuses: grpc.ServiceError[]; emit(event: 'error', error: grpc.ServiceError): boolean } {
  const statuses: grpc.ServiceError[] = [];
  return { statuses, emit: (_event, error) => { statuses.push(error); return true; } };
}

function deferred(): { promise: Promise<void>; resolve(): void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((done) => { resolve = done; });
  return { promise, resolve };
}

test('a stop waits for a running call, names it, and refuses new calls as "stopping" meanwhile', async () => {
  const logger = recordingLogger();
  const calls = new RunningCalls(logger);
  const handler = deferred();
  calls.runStreaming(fakeCall(), () => 'backup 7 of client node2', () => handler.promise);
  const stopped = calls.stop('SIGTERM', 60_000, 'stop_timeout = 60 s');
  assert.equal(calls.isStopping, true);

  const late = fakeCall();
  let isLateRun = false;
  calls.runStreaming(late, () => 'list of client node1', async () => { isLateRun = true; });
  assert.equal(isLateRun, false);
  assert.match(late.statuses[0]!.details, /^the server is stopping \(SIGTERM\) and takes no new calls: try again once it is back$/);
  assert.equal(late.statuses[0]!.metadata.get('cpsbackup-error-code')[0], 'BUSY');
  let lateAnswer: { details?: string } | null = null;
  calls.runUnary((error) => { lateAnswer = error; }, () => 'delete of client node1', () => assert.fail('a refused call must not run'));
  assert.match((lateAnswer as { details?: string } | null)?.details ?? '', /the server is stopping/);

  handler.resolve();
  assert.deepEqual(await stopped, { waitedFor: ['backup 7 of client node2'], cut: []});
  assert.ok(logger.lines.includes('info stopping: waiting for 1 running call to end (at most stop_timeout = 60 s): backup 7 of client node2'));
  assert.ok(logger.lines.includes('info stopping: backup 7 of client node2 ended; 0 calls still running'));
});

test('past the timeout, and at cutNow, the calls left are cut with a worded status and logged by name', async () => {
  for (const isCutNow of [false, true]) {
    const logger = recordingLogger();
    const calls = new RunningCalls(logger);
    const call = fakeCall();
    const handler = deferred();
    // A handler ends once its call is cut, as grpc-js's 'cancelled' ends a real one.
    calls.runStreaming(call, () => 'restore of backup 3 of client node1', async () => {
      await handler.promise;
    });
    const stopped = calls.stop('SIGTERM', isCutNow ? 60_000 : 10, 'stop_timeout = 0 s');
    if (isCutNow) calls.cutNow();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(call.statuses.length, 1);
    const why = isCutNow ? 'it was asked twice to stop' : 'stop_timeout = 0 s passed since it was asked to stop';
    assert.equal(call.statuses[0]!.details, `the server stopped before this call finished (${why}); a backup is not committed, a restore not complete: try again once the server is back`);
    assert.equal(cutReasonOf(call), call.statuses[0]!.details);
    handler.resolve();
    const outcome = await stopped;
    assert.deepEqual(outcome, { waitedFor: ['restore of backup 3 of client node1'], cut: ['restore of backup 3 of client node1']});
    assert.ok(logger.lines.some((line) => line.startsWith(`warn stopping: ${why}: cutting restore of backup 3 of client node1 (running for `)), logger.lines.join('\n'));
  }
});

test('a stop with nothing running returns at once; a unary call ends when it answers', async () => {
  const calls = new RunningCalls(recordingLogger());
  let answer: unknown;
  let reply: grpc.sendUnaryData<string> = () => undefined;
  calls.runUnary<string>((error, value) => { answer = error ?? value; }, () => 'protect of client node1', (callback) => { reply = callback; });
  await new Promise((resolve) => setImmediate(resolve));
  const stopped = calls.stop('SIGINT', 60_000, 'stop_timeout = 60 s');
  reply(null, 'done');
  reply(null, 'twice');
  assert.deepEqual(await stopped, { waitedFor: ['protect of client node1'], cut: []});
  assert.equal(answer, 'done');
  assert.deepEqual(await new RunningCalls(recordingLogger()).stop('SIGTERM', 60_000, 'stop_timeout = 60 s'), { waitedFor: [], cut: []});
});

// Regression (review): a stop cut an upload whose commit was under way: its client heard "a backup is not
// committed" while the store committed it (8 runs in 9 with a slow sync). A committing upload is waited for.
test('an upload whose commit is under way is not cut: the stop waits for it, and cuts the others', async () => {
  const logger = recordingLogger();
  const calls = new RunningCalls(logger);
  const committing = fakeCall();
  const commit = deferred();
  calls.runStreaming(committing, () => 'backup 4 of client node1', async () => {
    markCommitting(committing);
    await commit.promise;
  });
  const other = fakeCall();
  const otherHandler = deferred();
  calls.runStreaming(other, () => 'backup 9 of client node2', () => otherHandler.promise);
  const stopped = calls.stop('SIGTERM', 10, 'stop_timeout = 0 s');
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(committing.statuses.length, 0, 'the committing upload is not cut');
  assert.equal(other.statuses.length, 1, 'the other one is');
  otherHandler.resolve();
  setTimeout(() => commit.resolve(), 50);
  assert.deepEqual(await stopped, { waitedFor: ['backup 4 of client node1', 'backup 9 of client node2'], cut: ['backup 9 of client node2'] });
  assert.ok(logger.lines.some((line) => line.includes('backup 4 of client node1 is committing: waiting for its commit to end')), logger.lines.join('\n'));
  assert.equal(cutReasonOf(committing), undefined);
});
