// Proves how an --include value becomes the bytes of a path in the backup: escapes as -s prints them
// decoded, raw bytes Node showed as U+FFFD taken from the command line, the spelling normalized as bytes,
// and what cannot name one path (a malformed escape, a NUL, two raw arguments alike) refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { includePath } from '../src/cli/include-path';

const bytes = (...parts: (string | number[])[]): Buffer => Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));

test('escapes decode, and the path is normalized as bytes', () => {
  assert.deepEqual(includePath('/x/bad\\xff\\xfename'), bytes('/x/bad', [0xff, 0xfe], 'name'));
  assert.deepEqual(includePath('/x//new\\x0aline/./'), bytes('/x/new\nline'));
  assert.deepEqual(includePath('/x/back\\\\slash'), bytes('/x/back\\slash'));
  assert.deepEqual(includePath('/x/y/..\\xff/'), bytes('/x/y/..', [0xff]));
  assert.deepEqual(includePath('/x/\\xc3\\xa9'), bytes('/x/é'));
});

test('raw bytes Node could not decode come from the command line, in either spelling', () => {
  const raw = bytes('/x/', [0xff], 'a');
  const shown = raw.toString('utf8');
  assert.deepEqual(includePath(shown, [bytes('-i'), bytes('--include'), raw]), raw);
  assert.deepEqual(includePath(shown, [bytes('--include='), Buffer.concat([bytes('--include='), raw])]), raw);
  assert.throws(() => includePath(shown, [raw, bytes('/x/', [0xfe], 'a')]), /two arguments hold different bytes/);
  assert.deepEqual(includePath('/x/\ufffd', [bytes('/x/\ufffd')]), bytes('/x/\ufffd'), 'a real U+FFFD is itself');
});

test('what cannot name one path is refused', () => {
  for (const [value, message] of [['/x/\\x4', /"\\x4" at byte 3 is not an escape/], ['/x/\\q', /"\\q" at byte 3/], ['/x/a\\x00b', /no NUL byte/],
    ['x\\xff', /give the absolute path as the backup holds it \(e\.g\. \/srv\/app\), got "x\\xff"/]] as const) {
    assert.throws(() => includePath(value), (error: Error) => error instanceof InvalidArgumentError && message.test(error.message), value);
  }
});
