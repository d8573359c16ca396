// Proves names given as bytes are shown one way only: readable UTF-8 stays, invalid bytes, control
// and invisible characters and the backslash are escaped, and no two names give the same text; and
// that unescapeBytes reads that text back to the very bytes (how --include takes a path as -s lists it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeBytes, unescapeBytes } from '../src/common/escape-bytes';
import { testBytes } from './support/test-bytes';

test('valid text stays readable; invalid bytes, controls and backslashes are escaped', () => {
  const cases: [Buffer, string][] = [
    [Buffer.from('plain.txt'), 'plain.txt'],
    [Buffer.from('ünïcödé 日本 😀'), 'ünïcödé 日本 😀'],
    [Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), 'bad\\xff\\xfe'],
    [Buffer.from('new\nline\ttab\x1b[31m\x7f'), 'new\\x0aline\\x09tab\\x1b[31m\\x7f'],
    [Buffer.from('back\\slash'), 'back\\\\slash'],
    [Buffer.from('\uFFFD'), '\uFFFD'],
    [Buffer.from([0xc3, 0x28]), '\\xc3('],
    [Buffer.from([0xed, 0xa0, 0x80]), '\\xed\\xa0\\x80'], // a surrogate
    [Buffer.from([0xc0, 0xaf]), '\\xc0\\xaf'], // overlong "/"
    [Buffer.from([0xf4, 0x90, 0x80, 0x80]), '\\xf4\\x90\\x80\\x80'], // above U+10FFFF
    [Buffer.from('\u2028\u202e\u0085'), '\\xe2\\x80\\xa8\\xe2\\x80\\xae\\xc2\\x85'],
  ];
  for (const [bytes, expected] of cases) assert.equal(escapeBytes(bytes), expected, bytes.toString('hex'));
});

test('escaping is one-to-one: a name spelling an escape differs from the byte it spells', () => {
  const names = [
    Buffer.from([0xff]),
    Buffer.from('\\xff'),
    Buffer.from('\\\\xff'),
    Buffer.from([0x5c, 0xff]),
    Buffer.from('\uFFFD'),
    Buffer.from([0xef, 0xbf]),
    Buffer.from('\n'),
    Buffer.from('\\x0a'),
  ];
  const shown = names.map(escapeBytes);
  assert.equal(new Set(shown).size, names.length, shown.join(' | '));
});

test('unescapeBytes reads every escaped name back to its bytes', () => {
  // Random bytes (mostly invalid UTF-8), random picks from a mix of text, backslashes, hidden characters and stray bytes.
  const pieces = [Buffer.from('a'), Buffer.from('/'), Buffer.from('\\'), Buffer.from('\\x41'), Buffer.from('\\\\'), Buffer.from('é'), Buffer.from('日'),
    Buffer.from('😀'), Buffer.from('\uFFFD'), Buffer.from([0xff]), Buffer.from([0xe2, 0x82]), Buffer.from([0xc0, 0xaf]), Buffer.from('\n'),
    ...['\u0000', '\u0007', '\u001b', '\u007f', '\u0085', '\u00ad', '\u200e', '\u202e', '\u2028', '\ufeff', '\u{e0001}'].map((character) => Buffer.from(character))];
  for (let round = 0; round < 500; round++) {
    const random = testBytes(`unescape ${round}`, 64);
    const bytes = round % 2 === 0 ? random.subarray(0, random[0] % 48)
      : Buffer.concat([...random.subarray(0, random[0] % 24)].map((pick) => pieces[pick % pieces.length]));
    assert.deepEqual(unescapeBytes(escapeBytes(bytes)), bytes, bytes.toString('hex'));
  }
  assert.deepEqual(unescapeBytes('/x/bad\\xff\\xFEname'), Buffer.from([...Buffer.from('/x/bad'), 0xff, 0xfe, ...Buffer.from('name')]));
  // Raw bytes that are not an escape stand for themselves: what a shell passes for $(printf '\\377').
  assert.deepEqual(unescapeBytes(Buffer.from([0x2f, 0xff, 0x5c, 0x5c])), Buffer.from([0x2f, 0xff, 0x5c]));
});

test('unescapeBytes refuses a malformed escape, naming it', () => {
  for (const [text, shown] of [['/x\\x4', '\\x4'], ['/x\\x4g', '\\x4g'], ['/x\\q', '\\q'], ['/x\\', '\\'], ['\\X41', '\\X']]) {
    assert.throws(() => unescapeBytes(text), (error: Error) => error instanceof RangeError && error.message.startsWith(`"${shown}" at byte`), text);
  }
});
