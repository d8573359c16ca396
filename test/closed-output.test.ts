// EIO means "the terminal hung up" only on a terminal: on a redirected file it is a failing disk, and a
// listing that dropped it exited 0 with its output lost (found by review).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOutputGone } from '../src/cli/closed-output';

const error = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });
const stream = (isTTY: boolean): NodeJS.WriteStream => ({ isTTY }) as unknown as NodeJS.WriteStream;

test('EPIPE is output gone on any stream; EIO only on a terminal; anything else never', () => {
  assert.equal(isOutputGone(error('EPIPE'), stream(false)), true);
  assert.equal(isOutputGone(error('EPIPE'), stream(true)), true);
  assert.equal(isOutputGone(error('EIO'), stream(true)), true, 'a hung-up terminal');
  assert.equal(isOutputGone(error('EIO'), stream(false)), false, 'a redirected file on a failing disk');
  assert.equal(isOutputGone(error('ENOSPC'), stream(false)), false);
});
