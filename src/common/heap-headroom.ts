// How far V8 lets a process's old generation grow past what survived its last full collection.
//
// V8 picks a factor of 1.1 to 4 over the survivors from its own speed estimates, and starts marking
// again once less than a young generation's worth (about 16 MiB) is left below that limit. With the
// few MiB our processes keep alive, that is almost at once: a first backup of 20,000 small files made
// 48-58 full collections in the client (9 MiB live) and 15 in the server (12 MiB live), the server's
// collections about a quarter of its CPU. The other end: left to V8, the server's old generation grew
// to 85-114 MiB of garbage over 15 MiB live during a restore of 100,000 files, its RSS past 256 MiB.
//
// So the room above the survivors is fixed in bytes, not as a factor: HEADROOM_BYTES over a small
// heap, twice the survivors over a big one. V8 reads the factor at every full collection; it is set
// again after each from what survived it (bench A: 6-9 % less CPU in each process, the note of issue 18).
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';

const FLAG = '--heap-growing-percent';
/** Room for garbage above the survivors of a full collection, while they are fewer than this. */
export const HEADROOM_BYTES = 32 * 1024 * 1024;
/** Never less than twice the survivors: a big heap collected too often spends its time marking. */
const MIN_PERCENT = 100;
/**
 * Never more than V8's own largest factor (4). The factor is set after a collection for the next one,
 * which applies it to what survives then: a live set that grew meanwhile (a walk's first folders, a
 * restore's tree) must not be multiplied by a factor meant for a few MiB.
 */
const MAX_PERCENT = 300;

/** The growth percent (V8's --heap-growing-percent) that leaves HEADROOM_BYTES above liveBytes, within its bounds. */
export function growingPercentFor(liveBytes: number): number {
  return Math.min(MAX_PERCENT, Math.max(MIN_PERCENT, Math.round((100 * HEADROOM_BYTES) / liveBytes)));
}

function isGivenOn(execArgv: readonly string[]): boolean {
  return execArgv.some((argument) => argument.split('=')[0].replaceAll('_', '-') === FLAG);
}

export interface HeapHeadroom {
  /** The growth percent set now; undefined when node's command line gave its own. */
  readonly percent: number | undefined;
  stop(): void;
}

/**
 * Keeps the growth factor at growingPercentFor(what survived the last full collection) for the rest
 * of this process, unless node was started with the flag (an operator's choice wins). The observer
 * does not keep the process alive.
 */
export function keepHeapHeadroom(execArgv: readonly string[] = process.execArgv): HeapHeadroom {
  if (isGivenOn(execArgv)) return { percent: undefined, stop: () => undefined };
  // Twice, until a full collection has said what survives: a process's first MiB are no measure.
  let percent = 0;
  const setPercent = (wanted: number): void => {
    if (wanted === percent) return;
    percent = wanted;
    setFlagsFromString(`${FLAG}=${percent}`);
  };
  setPercent(MIN_PERCENT);
  const follow = (): void => setPercent(growingPercentFor(getHeapStatistics().used_heap_size));
  const observer = new PerformanceObserver((list) => {
    // Reported after the collection, so the heap's size then is what survived it (and a little since).
    if (list.getEntries().some((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)) follow();
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    get percent() {
      return percent;
    },
    stop: () => observer.disconnect(),
  };
}
