// Regression through the real CLIs: with client-side chunking a query gathers the chunks of many small
// files, so a file's entry can arrive after the session's flush (every 4,096 entries) has forgotten
// chunks it stored; the server then refused the backup ("chunk … was neither sent in this backup nor
// is it one this client holds", found by the 512 MiB bench). Files sharing content across the flush
// boundary took the same path before queries were gathered.
import { test } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Sandbox } from './support/sandbox';
import { assertRestoresExactly, backupNow } from './support/fault-tools';

const FILES = 9000;

for (const chunking of ['client', 'server'] as const) {
  test(`${FILES} small files, some sharing content across session flushes, back up and restore exactly (chunking = ${chunking})`, async (t) => {
    const sandbox = await Sandbox.create();
    t.after(() => sandbox.destroy());
    const data = join(sandbox.root, 'data');
    for (let folder = 0; folder < FILES / 1000; folder++) {
      await mkdir(join(data, `folder-${folder}`), { recursive: true });
      const writes: Promise<void>[] = [];
      for (let index = 0; index < 1000; index++) {
        const number = folder * 1000 + index;
        // Every 7th file repeats the content of a file about 4,100 entries earlier: the same chunk on both sides of a flush.
        const seed = number % 7 === 0 && number >= 4100 ? number - 4100 : number;
        writes.push(writeFile(join(data, `folder-${folder}`, `file-${index}.txt`), contentOf(seed)));
      }
      await Promise.all(writes);
    }
    await sandbox.startServer();
    const config = await sandbox.writeNodeConfig('node1', [`include = ${data}`, `chunking = ${chunking}`]);
    const backup = await backupNow(sandbox, config, data);
    await assertRestoresExactly(sandbox, config, [backup]);
  });
}

/** 300 to 3,000 bytes, distinct per seed and not compressible to nothing. */
function contentOf(seed: number): Buffer {
  const parts: Buffer[] = [];
  const length = 300 + (seed * 7919) % 2700;
  for (let size = 0; size < length; size += 32) parts.push(createHash('sha256').update(`file ${seed} part ${size}`).digest());
  return Buffer.concat(parts).subarray(0, length);
}
