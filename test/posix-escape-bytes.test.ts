// Proves names given as bytes are shown one way only: readable UTF-8 stays, invalid bytes, control
// and invisible characters and the backslash are escaped, and no two names give the same text.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeBytes } from '../src/common/escape-bytes';

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
