// Micro-benchmark of S3Backend on a throwaway single-node Ceph RGW (scripts/ceph): pack puts (one
// conditional PUT, and multipart), record-sized Range GETs at several concurrencies, big range reads.
// Usage: npm run build && node dist/bench/s3-backend-micro.js [packs]   (default 4 packs of 64 MiB)

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadS3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { S3Backend } from '../src/chunkstore/backend/s3/s3-backend';
import { startCeph } from '../test/support/ceph';

const MIB = 1024 * 1024;
const PACK_SIZE = 64 * MIB;
const RECORD_SIZE = 128 * 1024; // the default average chunk

async function main(): Promise<void> {
  const packCount = Number(process.argv[2] ?? 4);
  let started = performance.now();
  const cluster = await startCeph();
  const startSeconds = (performance.now() - started) / 1000;
  const staging = await mkdtemp('/tmp/cps3b-');
  const rows: string[] = [`cluster start ${startSeconds.toFixed(1)} s`];
  try {
    const credentials = loadS3Credentials(cluster.credentialsFile);
    const single = await S3Backend.open({ endpoint: cluster.endpoint, bucket: 'bench', prefix: 'single/', credentials, createBucket: true });
    const multipart = await S3Backend.open({
      endpoint: cluster.endpoint, bucket: 'bench', prefix: 'multipart/', credentials, multipartThreshold: 16 * MIB, partSize: 16 * MIB, partConcurrency: 2,
    });
    const content = randomBytes(PACK_SIZE);
    const names: string[] = [];
    for (const [label, backend] of [['put 64 MiB, one PUT', single], ['put 64 MiB, multipart 16 MiB x2', multipart]] as const) {
      let seconds = 0;
      for (let index = 0; index < packCount; index++) {
        const name = randomBytes(16).toString('hex');
        const file = join(staging, name);
        await writeFile(file, content);
        started = performance.now();
        await backend.putPack(name, file);
        seconds += (performance.now() - started) / 1000;
        if (backend === single) names.push(name);
      }
      rows.push(`${label.padEnd(40)} ${(packCount * PACK_SIZE / MIB / seconds).toFixed(1)} MiB/s`);
    }
    for (const concurrency of [1, 4, 16]) {
      const reads = 400;
      let next = 0;
      started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < reads) {
          const index = next++;
          const offset = ((index * 7_919_993) % (PACK_SIZE - RECORD_SIZE));
          await single.readRange(names[index % names.length], offset, RECORD_SIZE);
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      rows.push(`${`range 128 KiB x${reads}, ${concurrency} in flight`.padEnd(40)} ${(reads * RECORD_SIZE / MIB / seconds).toFixed(1)} MiB/s, ${(reads / seconds).toFixed(0)} reads/s`);
    }
    started = performance.now();
    for (const name of names) {
      for (let offset = 0; offset < PACK_SIZE; offset += 16 * MIB) await single.readRange(name, offset, 16 * MIB);
    }
    rows.push(`${'range 16 MiB, whole packs, 1 in flight'.padEnd(40)} ${(names.length * PACK_SIZE / MIB / ((performance.now() - started) / 1000)).toFixed(1)} MiB/s`);
    await single.close();
    await multipart.close();
  } finally {
    await rm(staging, { recursive: true, force: true });
    started = performance.now();
    await cluster.stop();
    rows.push(`cluster stop ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  process.stdout.write(`${rows.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
