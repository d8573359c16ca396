// Regular expressions from a peer or a command line, compiled for V8's linear-time engine: a
// pattern that would need backtracking (backreferences, lookaround) is refused instead of being
// allowed to stall the process (ReDoS) on a hostile path.
import { setFlagsFromString } from 'node:v8';
import { InvalidPatternError } from './errors';

let isEngineEnabled = false;

export function compileLinearRegex(source: string, what: string): RegExp {
  if (!isEngineEnabled) {
    // Process-wide, idempotent: it only makes the 'l' flag available.
    setFlagsFromString('--enable-experimental-regexp-engine');
    isEngineEnabled = true;
  }
  try {
    return new RegExp(source, 'l');
  } catch (error) {
    const reason = /linear time/.test((error as Error).message)
      ? 'it needs backtracking (backreferences or lookaround are not supported)' : (error as Error).message;
    throw new InvalidPatternError(`${what} ${JSON.stringify(source.slice(0, 200))} cannot be used: ${reason}`);
  }
}
