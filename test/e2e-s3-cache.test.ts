// s3_cache_size on a real Ceph RADOS Gateway (issue 15): a second restore of the same backup is served by the
// local read cache (hits, and hardly any S3 GET); the cache survives a restart; a damaged cache file is found,
// dropped and read again from the bucket (the restore stays byte for byte); a small cache never holds more
// than its bound (evicting the least recently used); s3_cache_size = 0 turns it off and restores still work.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Sandbox } from './support/sandbox';
import { metricValue, statusUrlOf } from './support/status-metrics';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { testBytes } from './support/test-bytes';
import { folderBytes, writeDeterministicFile } from './support/trees';
import { assertRestoresExactly, backupNow, flipByte, type KnownBackup } from './support/fault-tools';

const skip = cephSkipReason();
const MEBIBYTE = 1024 * 1024;
const BUCKET = 'cpsbackup-cache';

interface CacheStatus {
  readonly hits: number;
  readonly misses: number;
  readonly bytes: number;
  readonly limitBytes: number;
  readonly evictions: number;
  readonly discarded: number;
}

/** The running server's S3 GET count and cache figures, from /metrics (what an operator's Prometheus sees). */
async function readFigures(sandbox: Sandbox): Promise<{ gets: number; cache: CacheStatus | undefined }> {
  const metrics = await (await fetch(`${statusUrlOf(sandbox.runningServer!.log())}/metrics`)).text();
  const gets = metricValue(metrics, 'cpsbackup_s3_requests{operation="get"}') ?? 0;
  const hits = metricValue(metrics, 'cpsbackup_s3_cache_hits');
  if (hits === undefined) return { gets, cache: undefined };
  const value = (name: string): number => metricValue(metrics, `cpsbackup_s3_cache_${name}`)!;
  return {
    gets,
    cache: { hits, misses: value('misses'), bytes: value('bytes'), limitBytes: value('limit_bytes'), evictions: value('evictions'), discarded: value('discarded') },
  };
}

describe('s3_cache_size: the local read cache of pack ranges on a Ceph RGW bucket', { skip }, () => {
  let cluster: CephCluster;

  before(async () => {
    cluster = await startCeph();
  });
  after(async () => {
    await cluster?.stop();
  });

  function serverLines(sandbox: Sandbox, prefix: string, cacheSize: string): string[] {
    return [
      'storage = s3', `s3_endpoint = ${cluster.endpoint}`, `s3_bucket = ${BUCKET}`, `s3_prefix = ${prefix}`,
      `s3_credentials_file = ${cluster.credentialsFile}`, `encryption_key_file = ${join(sandbox.root, 'store.key')}`, 'catalog_snapshot_interval = 0',
      'chunk_min_size = 16384', 'chunk_avg_size = 65536', 'chunk_max_size = 262144', 'pack_size = 4M', `s3_cache_size = ${cacheSize}`,
    ];
  }

  /** A store on its own prefix with this cache size, one backup of a big file and many small ones. */
  async function backedUp(sandbox: Sandbox, prefix: string, cacheSize: string): Promise<{ configFile: string; backup: KnownBackup }> {
    const made = await sandbox.runServerCommand(['init-key', join(sandbox.root, 'store.key')]);
    assert.equal(made.code, 0, made.stderr);
    await sandbox.rewriteServerConfig(serverLines(sandbox, prefix, cacheSize));
    const data = join(sandbox.root, 'data');
    await writeDeterministicFile(join(data, 'big.bin'), `${prefix}-big`, 8 * MEBIBYTE);
    await mkdir(join(data, 'small'), { recursive: true });
    for (let index = 0; index < 150; index++) await writeFile(join(data, 'small', `file-${index}.txt`), testBytes(`${prefix}-${index}`, 4096 + index * 97));
    await sandbox.startServer();
    const configFile = await sandbox.writeNodeConfig('node1', [`include = ${data}`]);
    return { configFile, backup: await backupNow(sandbox, configFile, data) };
  }

  test('a second restore is served from the cache, after a restart too; a damaged cache file is read again from the bucket', async () => {
    const sandbox = await Sandbox.create();
    try {
      const { configFile, backup } = await backedUp(sandbox, 'warm/', '64M');
      const start = await readFigures(sandbox);
      assert.ok(start.cache !== undefined, 'cache figures in /metrics');
      assert.equal(start.cache.limitBytes, 64 * MEBIBYTE);

      await assertRestoresExactly(sandbox, configFile, [backup]);
      const cold = await readFigures(sandbox);
      const coldGets = cold.gets - start.gets;
      assert.ok(coldGets >= 3, `the first restore reads the bucket (${coldGets} GETs)`);
      assert.ok(cold.cache!.misses > start.cache.misses);
      assert.ok(cold.cache!.bytes > 8 * MEBIBYTE, `the cache keeps what was read (${cold.cache!.bytes} bytes)`);

      await assertRestoresExactly(sandbox, configFile, [backup]);
      const warm = await readFigures(sandbox);
      const warmGets = warm.gets - cold.gets;
      assert.ok(warm.cache!.hits - cold.cache!.hits >= coldGets, `the second restore hits the cache (${warm.cache!.hits - cold.cache!.hits} hits)`);
      assert.ok(warmGets <= Math.max(1, coldGets / 10), `the second restore made ${warmGets} GETs, the first ${coldGets}`);
      assert.equal(warm.cache!.evictions, 0);

      // The cache folder outlives the server: after a restart the same restore is still local.
      await sandbox.runningServer!.stop();
      await sandbox.startServer();
      assert.equal(await sandbox.writeNodeConfig('node1', [`include = ${backup.root}`]), configFile, 'the client config names the new port');
      const restarted = await readFigures(sandbox);
      assert.equal(restarted.cache!.bytes, warm.cache!.bytes, 'the cache files are found again at start');
      await assertRestoresExactly(sandbox, configFile, [backup]);
      const again = await readFigures(sandbox);
      assert.ok(again.cache!.hits > 0);
      assert.ok(again.gets - restarted.gets <= Math.max(1, coldGets / 10), `${again.gets - restarted.gets} GETs after the restart`);

      // Damage every cache file (a byte in the middle of each): each is caught by its digest, dropped and
      // read again from the bucket; the restore is still exact and the records were never served damaged.
      const cacheFolder = join(sandbox.storeDirectory, 'cache');
      const files = (await readdir(cacheFolder)).filter((name) => !name.startsWith('.'));
      assert.ok(files.length >= 2, files.join(', '));
      for (const name of files) {
        const { size } = await stat(join(cacheFolder, name));
        await flipByte(join(cacheFolder, name), Math.floor(size / 2));
      }
      await assertRestoresExactly(sandbox, configFile, [backup]);
      const healed = await readFigures(sandbox);
      assert.ok(healed.cache!.discarded >= 1, 'the damaged cache files were found');
      assert.ok(healed.gets - again.gets >= 1, 'and read again from the bucket');
      assert.match(sandbox.runningServer!.log(), /pack cache: \S+ is damaged \(digest mismatch\): removed, read from the bucket again/);
      // Read again, kept again: the next restore is local once more.
      await assertRestoresExactly(sandbox, configFile, [backup]);
      const after = await readFigures(sandbox);
      assert.ok(after.cache!.hits > healed.cache!.hits);
      assert.equal(after.cache!.discarded, healed.cache!.discarded);
    } finally {
      await sandbox.destroy();
    }
  });

  test('a 6 MiB cache never holds more than 6 MiB: it evicts the least recently used; s3_cache_size = 0 has no cache', async () => {
    const sandbox = await Sandbox.create();
    try {
      const { configFile, backup } = await backedUp(sandbox, 'small/', '6M');
      const cacheFolder = join(sandbox.storeDirectory, 'cache');
      let mostSeen = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          mostSeen = Math.max(mostSeen, await folderBytes(cacheFolder));
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      try {
          // Restores read runs of up to 4 MiB: two of them do not fit, so keeping the second evicts the first.
        await assertRestoresExactly(sandbox, configFile, [backup, backup]);
      } finally {
        sampling = false;
        await sampler;
      }
      const figures = await readFigures(sandbox);
      assert.equal(figures.cache!.limitBytes, 6 * MEBIBYTE);
      assert.ok(figures.cache!.evictions > 0, 'the cache had to evict');
      assert.ok(figures.cache!.bytes <= 6 * MEBIBYTE, `${figures.cache!.bytes} bytes cached`);
      assert.ok(mostSeen > 0 && mostSeen <= 6 * MEBIBYTE, `the cache folder was seen at ${mostSeen} bytes`);
      await sandbox.runningServer!.stop();

      // Off: no cache folder use, no cache series, and restores read the bucket every time.
      await sandbox.rewriteServerConfig(serverLines(sandbox, 'small/', '0'));
      await sandbox.startServer();
      await sandbox.writeNodeConfig('node1', [`include = ${backup.root}`]);
      const before = await readFigures(sandbox);
      await assertRestoresExactly(sandbox, configFile, [backup, backup]);
      const off = await readFigures(sandbox);
      assert.ok(off.gets - before.gets >= 6, `both restores read the bucket (${off.gets - before.gets} GETs)`);
      assert.equal(off.cache?.hits ?? 0, 0);
      const status = await (await fetch(`${statusUrlOf(sandbox.runningServer!.log())}/status`)).json() as { objectStore: { cache: unknown } };
      assert.equal(status.objectStore.cache, null);
    } finally {
      await sandbox.destroy();
    }
  });
});
