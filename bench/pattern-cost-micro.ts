// Micro-benchmark of what a client's pattern costs the server's event loop: a costly --find glob or
// restore -r pattern tested on the thread (as before) against in a PathMatcher worker (now), as the
// longest stall of a 1 ms timer; and a restore's named paths checked by scan (before) against SelectedPaths (now).
// Usage: node dist/bench/pattern-cost-micro.js [pathBytes] [namedPaths]
// (default 4096-byte paths, as a real file system allows; 65536 is what a crafted entry may hold)
import { performance } from 'node:perf_hooks';
import { compileLinearRegex } from '../src/common/linear-regex';
import { pathGlobSource } from '../src/server/browse/path-glob';
import { PathMatcher } from '../src/server/pattern/path-matcher';
import { SelectedPaths } from '../src/server/selected-paths';

const pathBytes = Number(process.argv[2] ?? 4096);
const namedCount = Number(process.argv[3] ?? 100_000);
const SLASH = 0x2f;

/** Runs work while a 1 ms interval ticks; the longest gap between ticks is how long other calls waited. */
async function longestStall(work: () => Promise<void>): Promise<{ totalMs: number; stallMs: number }> {
  let last = performance.now();
  let stall = 0;
  const ticker = setInterval(() => { const now = performance.now(); stall = Math.max(stall, now - last); last = now; }, 1);
  const started = performance.now();
  await work();
  const totalMs = performance.now() - started;
  stall = Math.max(stall, performance.now() - last);
  clearInterval(ticker);
  return { totalMs, stallMs: stall };
}

async function patternCost(name: string, source: string, paths: readonly string[]): Promise<void> {
  const onThread = await longestStall(async () => {
    const regex = compileLinearRegex(source, name);
    for (const path of paths) regex.test(path);
  });
  const matcher = new PathMatcher(source, name);
  const inWorker = await longestStall(async () => { await matcher.match(paths); });
  matcher.close();
  const perPath = (ms: number): string => {
    const each = ms / paths.length;
    return each >= 1 ? `${each.toFixed(1)} ms/path` : `${(each * 1000).toFixed(2)} µs/path`;
  };
  console.log(`${name} (a regex of ${source.length} chars, ${paths.length} paths of ${paths[0].length} bytes)`);
  console.log(`  on the event loop (before): ${perPath(onThread.totalMs)}, longest stall ${onThread.stallMs.toFixed(0)} ms`);
  console.log(`  in a PathMatcher (now):     ${perPath(inWorker.totalMs)}, longest stall ${inWorker.stallMs.toFixed(0)} ms`);
}

function scanCovers(path: Buffer, named: readonly Buffer[]): boolean {
  return named.some((folder) => path.equals(folder) || (path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder)));
}

async function selectionCost(): Promise<void> {
  const named = Array.from({ length: namedCount }, (_, index) => Buffer.from(`/srv/data/named-${index}`));
  const entries = Array.from({ length: 200 }, (_, index) => Buffer.from(`/srv/data/other-${index}/file`));
  const time = (check: (path: Buffer) => boolean): number => {
    const started = performance.now();
    for (const path of entries) check(path);
    return (performance.now() - started) / entries.length;
  };
  const indexStarted = performance.now();
  const selected = await SelectedPaths.index(named, 'bench');
  const indexMs = performance.now() - indexStarted;
  console.log(`restore naming ${namedCount} paths, per entry:`);
  console.log(`  scan of the list (before):  ${time((path) => scanCovers(path, named)).toFixed(3)} ms`);
  console.log(`  SelectedPaths (now):        ${time((path) => selected.covers(path)).toFixed(4)} ms (index built once in ${indexMs.toFixed(0)} ms)`);
}

async function main(): Promise<void> {
  const deepPath = (index: number): string => `/${'a'.repeat(pathBytes - 8)}/f${String(index).padStart(4, '0')}`;
  const paths = Array.from({ length: 3 }, (_, index) => deepPath(index));
  await patternCost('a --find glob', pathGlobSource(`${'*a'.repeat(511)}#`), paths);
  await patternCost('a restore -r pattern', `${'.*a'.repeat(1365)}#`, paths.slice(0, 1));
  await patternCost('an honest --find glob', pathGlobSource('*.conf'), Array.from({ length: 10_000 }, (_, index) => `/etc/app/conf.d/file-${index}.conf`));
  await selectionCost();
}

void main();
