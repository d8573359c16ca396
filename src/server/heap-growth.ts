// How far V8 lets the server's old generation grow between full collections. V8 picks a factor of
// 1.1 to 4 over what survived the last one from its own speed estimates, and on a machine with memory
// to spare it takes up to 4: the server's old generation, 15 MiB live during a restore of 100,000
// files, grew to 85-114 MiB of mostly dead entries and pages before V8 collected it, and its peak RSS
// passed 256 MiB. Fixed at 2, that garbage stays bounded for a few more, cheap, collections of a
// small heap (bench E/F, the note of issue 18). Fixed means fixed: where V8 would have chosen less
// than 2 (its memory reducer, a heap near its limit) it now takes 2 as well.
import { setFlagsFromString } from 'node:v8';

const FLAG = '--heap-growing-percent';
/** The old generation may grow to (1 + this/100) times its live size before the next full collection. */
const HEAP_GROWING_PERCENT = 100;

/**
 * Sets the growth factor for this process, unless node was started with the flag (an operator's
 * choice wins). V8 reads it at every full collection, so setting it after start takes effect at the next.
 */
export function setHeapGrowthFactor(execArgv: readonly string[] = process.execArgv): void {
  const isGiven = execArgv.some((argument) => {
    const name = argument.split('=')[0].replaceAll('_', '-');
    return name === FLAG;
  });
  if (!isGiven) setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
}
