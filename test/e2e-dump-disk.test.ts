// Proves a dump goes from its dumper to the server through a FIFO with no temp copy: while a
// 200 MiB dump is backed up, the client's side of the disk stays flat and only the store grows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Sandbox } from './support/sandbox';

const execFileAsync = promisify(execFile);
const DUMP_MEBIBYTES = 200;

/** Disk use in KiB, as du counts it (allocated blocks: a FIFO counts nothing, a temp copy would). */
async function diskUse(folder: string, exclude?: string): Promise<number> {
  const { stdout } = await execFileAsync('du', ['-sk', ...(exclude ? [`--exclude=${exclude}`] : []), folder]);
  return Number(stdout.split('\t')[0]);
}

test(`backing up a ${DUMP_MEBIBYTES} MiB dump: the client's disk use stays flat while the store grows`, async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const storage = join(sandbox.root, 'storage.conf');
    // Incompressible and not deduplicable, so the store must really take the whole dump.
    await writeFile(storage, ['source = big', 'kind = command', `dump = head -c ${DUMP_MEBIBYTES}M /dev/urandom`, 'load = cat > /dev/null', ''].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const work = join(sandbox.root, 'work', 'node1');
    const clientSideBefore = await diskUse(sandbox.root, 'store');
    const storeBefore = await diskUse(sandbox.storeDirectory);

    let isRunning = true;
    const backup = sandbox.runClient(['-c', config, '-e'], { timeoutMs: 600_000 }).finally(() => { isRunning = false; });
    const samples: { work: number; clientSide: number; store: number }[] = [];
    while (isRunning) {
      samples.push({ work: await diskUse(work), clientSide: await diskUse(sandbox.root, 'store'), store: await diskUse(sandbox.storeDirectory) });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const result = await backup;
    assert.equal(result.code, 0, `-e exited ${result.code ?? result.signal}\n${result.stdout}\n${result.stderr}`);
    const storeAfter = await diskUse(sandbox.storeDirectory);

    const peakWork = Math.max(...samples.map((sample) => sample.work));
    const peakClientSide = Math.max(...samples.map((sample) => sample.clientSide));
    const storeMidway = samples.filter((sample) => sample.store - storeBefore > 10 * 1024).length;
    console.log(`e2e-dump-disk: ${samples.length} samples; work folder peak ${peakWork} KiB; sandbox without store `
      + `${clientSideBefore} KiB before, peak ${peakClientSide} KiB; store ${storeBefore} KiB → ${storeAfter} KiB`);

    assert.ok(storeAfter - storeBefore >= DUMP_MEBIBYTES * 1024 * 0.99, 'the store holds the whole dump');
    assert.ok(samples.length >= 3 && storeMidway >= 1, 'samples were taken while the dump was flowing');
    // A temp copy of any part of the dump would show here; configs, certificates and a log are all there is.
    assert.ok(peakWork <= 64, `the work folder holds only FIFOs (peak ${peakWork} KiB)`);
    assert.ok(peakClientSide - clientSideBefore <= 4 * 1024, `the client side grew by ${peakClientSide - clientSideBefore} KiB`);
  } finally {
    await sandbox.destroy();
  }
});
