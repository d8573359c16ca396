// `npm run demo`: the whole product on one machine in a minute — CA and certificates, a server on
// 127.0.0.1, a backup of a generated folder, list, show, restore into a temp folder, byte-for-byte check.
import { mkdir, symlink, writeFile, chmod } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { Sandbox } from './sandbox';
import { compareTrees } from './tree-compare';

function step(text: string): void {
  process.stdout.write(`\n== ${text}\n`);
}

/** Deterministic sample data: text files, a few MiB of pseudo-random bytes, a symlink, an empty folder. */
async function makeSampleFolder(root: string): Promise<void> {
  await mkdir(join(root, 'etc', 'app'), { recursive: true });
  await mkdir(join(root, 'var', 'empty'), { recursive: true });
  await writeFile(join(root, 'etc', 'app', 'app.conf'), 'listen = 8080\nworkers = 4\n');
  await writeFile(join(root, 'etc', 'app', 'secret.key'), 'not-a-real-secret\n', { mode: 0o600 });
  await chmod(join(root, 'etc', 'app', 'secret.key'), 0o600);
  for (let index = 0; index < 50; index++) {
    await writeFile(join(root, 'etc', 'app', `note-${index}.txt`), `note ${index}\n`.repeat(100 + index));
  }
  const data = createWriteStream(join(root, 'var', 'data.bin'));
  let state = 12345;
  for (let block = 0; block < 32; block++) {
    const buffer = Buffer.alloc(256 * 1024);
    for (let offset = 0; offset < buffer.length; offset += 4) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      buffer.writeUInt32LE(state, offset);
    }
    if (!data.write(buffer)) await once(data, 'drain');
  }
  data.end();
  await once(data, 'finish');
  await symlink('app/app.conf', join(root, 'etc', 'current.conf'));
}

async function main(): Promise<number> {
  const sandbox = await Sandbox.create({ clients: ['demo-node'] });
  try {
    step(`sandbox in ${sandbox.root}: CA, server and client certificates made with cpsbackup-ca's library`);
    const sample = join(sandbox.root, 'sample');
    await makeSampleFolder(sample);
    process.stdout.write(`sample folder: ${sample}\n`);

    const server = await sandbox.startServer();
    step(`server listening on 127.0.0.1:${server.port} (mutual TLS 1.3), store in ${sandbox.storeDirectory}`);
    const config = await sandbox.writeNodeConfig('demo-node', [`include = ${sample}`]);

    const run = async (title: string, args: string[]): Promise<void> => {
      step(`${title}: cpsbackup -c ${config} ${args.join(' ')}`);
      const result = await sandbox.runClient(['-c', config, ...args]);
      process.stdout.write(result.stdout);
      if (result.stderr) process.stdout.write(result.stderr);
      if (result.code !== 0) throw new Error(`cpsbackup ${args.join(' ')} exited ${result.code ?? result.signal}`);
    };
    await run('first backup', ['-e']);
    await run('second backup, nothing changed', ['-e']);
    await run('list', ['-l']);
    await run('show backup 2', ['-s', '2']);
    const target = join(sandbox.root, 'restored');
    await run('restore the newest backup into a temp folder', ['-i', '--to', target]);

    step('verify: restored tree equals the sample byte for byte (content, modes, symlinks, empty folders)');
    const differences = await compareTrees(sample, join(target, sample));
    if (differences.length > 0) {
      process.stdout.write(`${differences.join('\n')}\nDEMO FAILED\n`);
      return 1;
    }
    process.stdout.write('identical\n');
    await server.stop();
    step('server stopped; demo OK');
    return 0;
  } finally {
    await sandbox.destroy();
  }
}

main().then((code) => process.exit(code), (error) => {
  process.stderr.write(`demo failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
