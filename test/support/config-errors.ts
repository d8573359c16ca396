// Matcher for assert.throws: a ConfigError on the expected line whose message matches.
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/common/errors';

export function configError(line: number | undefined, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.line, line);
    assert.match(error.message, pattern);
    return true;
  };
}
