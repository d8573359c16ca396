// The --find glob's contract: what each form matches on an escaped path, and that every pattern
// compiles for the linear-time engine (a hostile pattern cannot stall the server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePathGlob } from '../src/server/browse/path-glob';

const matches = (pattern: string, path: string): boolean => compilePathGlob(pattern).test(path);

test('a name glob matches the last component; a path glob the whole path', () => {
  assert.ok(matches('*.conf', '/etc/app.conf'));
  assert.ok(!matches('*.conf', '/etc/app.conf/x'));
  assert.ok(!matches('*.conf', '/etc/app.confx'));
  assert.ok(matches('/etc/*.conf', '/etc/app.conf'));
  assert.ok(!matches('/etc/*.conf', '/etc/sub/app.conf'), '* stops at /');
  assert.ok(matches('/etc/**/*.conf', '/etc/app.conf'), '**/ may match no folder');
  assert.ok(matches('/etc/**/*.conf', '/etc/a/b/app.conf'));
  assert.ok(matches('/etc/**', '/etc/a/b'));
  assert.ok(!matches('etc/*.conf', '/etc/app.conf'), 'a path glob starts at the root');
  assert.ok(matches('a?c', '/x/abc') && !matches('a?c', '/x/a/c'));
});

test('classes, negation, escapes and regex characters taken literally', () => {
  assert.ok(matches('[ab]1', '/a1') && matches('[ab]1', '/b1') && !matches('[ab]1', '/c1'));
  assert.ok(matches('[a-c]1', '/b1') && !matches('[a-c]1', '/d1'));
  assert.ok(matches('[!a]1', '/b1') && !matches('[!a]1', '/a1'));
  assert.ok(matches('[]]', '/]'), 'a ] first in a class is a member');
  assert.ok(matches('x[', '/x['), 'an unclosed [ is itself');
  assert.ok(matches('\\*', '/*') && !matches('\\*', '/a'));
  assert.ok(matches('new\\\\x0aline', '/new\\x0aline'), '\\\\ matches the backslash of an escaped byte');
  assert.ok(matches('a.b(c)+$^|{1}', '/a.b(c)+$^|{1}') && !matches('a.b', '/axb'));
});

test('patterns that would backtrack badly run in linear time; empty and huge patterns are refused', () => {
  // With backtracking this takes longer than any test run; the linear engine answers at once.
  const hostile = compilePathGlob('*a*a*a*a*a*a*a*a*a*a*a*a*b');
  assert.equal(hostile.flags.includes('l'), true);
  assert.ok(!hostile.test(`/${'a'.repeat(4000)}`));
  assert.throws(() => compilePathGlob(''), /--find needs a pattern/);
  assert.throws(() => compilePathGlob('x'.repeat(2000)), /longer than 1024/);
});
