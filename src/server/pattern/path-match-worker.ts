// Worker thread body: tests paths against one pattern, off the server's event loop. V8's linear-time
// engine still costs pattern size × path length per test (a 4 KiB pattern on a 64 KiB path: minutes),
// so a pattern from a client is never run on the thread every other client's call needs.
import { parentPort, workerData } from 'node:worker_threads';
import { compileLinearRegex } from '../../common/linear-regex';

export interface PathMatchData {
  readonly source: string;
  readonly what: string;
}

export interface PathMatchRequest {
  readonly id: number;
  readonly paths: readonly string[];
}

export interface PathMatchReply {
  readonly id: number;
  /** 1 where the path at that index matches. */
  readonly verdicts: Uint8Array;
}

const { source, what } = workerData as PathMatchData;
const regex = compileLinearRegex(source, what);

parentPort!.on('message', (request: PathMatchRequest) => {
  const verdicts = new Uint8Array(request.paths.length);
  request.paths.forEach((path, index) => { verdicts[index] = regex.test(path) ? 1 : 0; });
  parentPort!.postMessage({ id: request.id, verdicts } satisfies PathMatchReply, [verdicts.buffer]);
});
