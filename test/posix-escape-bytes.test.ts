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

test('runs of plain ASCII around escapes give the text each piece gives on its own', () => {
  // No piece starts with a UTF-8 continuation byte, so no two pieces join into another sequence.
  const pieces = [Buffer.from('/srv/app/'), Buffer.from([0xff]), Buffer.from('\\'), Buffer.from('日本'), Buffer.from('\n'),
    Buffer.from([0xe2, 0x80, 0xae]), Buffer.from('a'), Buffer.from([0xc3]), Buffer.from('\x7f')];
  let seed = 7;
  for (let round = 0; round < 2000; round++) {
    const chosen: Buffer[] = [];
    for (let count = round % 9; count > 0; count--) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      chosen.push(pieces[seed % pieces.length]);
    }
    const bytes = Buffer.concat(chosen);
    assert.equal(escapeBytes(bytes), chosen.map((piece) => escapeBytes(piece)).join(''), bytes.toString('hex'));
    assert.equal(unescapeBytes(escapeBytes(bytes)).equals(bytes), true, bytes.toString('hex'));
  }
});

// Regression: each character took a Buffer and a UTF-8 decode (~100 ns a byte): -s of a backup of a
// tree 8,000 folders deep (64 MB of paths) spent 14 s escaping them.
test('a long path of plain ASCII is escaped at copying speed', () => {
  const path = Buffer.from('/d'.repeat(8 * 1024 * 1024));
  const before = process.cpuUsage();
  const text = escapeBytes(path);
  const used = process.cpuUsage(before);
  assert.equal(text.length, path.length);
  const seconds = (used.user + used.system) / 1e6;
  assert.ok(seconds < 0.5, `16 MiB escaped in ${seconds.toFixed(2)} s of CPU`);
});
