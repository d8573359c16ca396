// How far V8 lets the old generation grow between full collections. By default it picks a factor of
// 1.1 to 4 over what survived the last one, from its own speed estimates, and on a machine with
// memory to spare it takes 4: the server's old generation, 15 MiB live during a restore of 100,000
// files, grew to 85-114 MiB of mostly dead entries and pages before V8 collected it, and its peak RSS
// passed 256 MiB. A factor of 2 bounds that garbage for a few more, cheap, collections of a small
// heap (bench E/F, the note of issue 18).
import { setFlagsFromString } from 'node:v8';

const FLAG = '--heap-growing-percent';
/** The old generation may grow to (1 + this/100) times its live size before the next full collection. */
export const HEAP_GROWING_PERCENT = 100;

/**
 * Sets the growth factor for this process, unless node was started with the flag (an operator's
 * choice wins). V8 reads it at every full collection, so setting it after start takes effect at the next.
 */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  if (execArgv.some((argument) => argument === FLAG || argument.startsWith(`${FLAG}=`) || argument.startsWith('--heap_growing_percent'))) return;
  setFlagsFromString(`${FLAG}=${HEAP_GROWING_PERCENT}`);
}
