// `npm run demo`: the whole product on one machine in a minute, through the commands a user runs —
// a CA and certificates (cpsbackup-ca), a server on 127.0.0.1 (cpsbackup-server), a backup, list,
// show and restore (cpsbackup), and a byte-for-byte check of the restored tree.
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { compareTrees } from './tree-compare';
import { runCommand, startServer } from './demo-commands';

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
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-demo-'));
  const ssl = join(root, 'ssl');
  const clients = join(root, 'clients');
  const serverConf = join(root, 'server.conf');
  const nodeConf = join(root, 'node.conf');
  const sample = join(root, 'sample');
  let stopServer: (() => Promise<void>) | undefined;
  try {
    step(`everything lives in ${root}`);
    await makeSampleFolder(sample);
    step('a CA, the server\'s certificate and one client\'s (cpsbackup-ca)');
    await runCommand('cpsbackup-ca', ['init', '--dir', ssl]);
    await runCommand('cpsbackup-ca', ['server', '--dir', ssl, '--name', 'localhost']);
    await runCommand('cpsbackup-ca', ['client', '--dir', ssl, 'demo-node']);

    step('the server on 127.0.0.1, its store in store/, the client registered in clients/');
    await mkdir(clients);
    await writeFile(join(clients, 'demo-node'), 'ssl_peer_cn = demo-node\n');
    await writeFile(serverConf, [
      'address = 127.0.0.1', 'port = 0', 'status_address = 127.0.0.1', 'status_port = 0',
      `directory = ${join(root, 'store')}`, `clientconfdir = ${clients}`, 'keep = 7',
      `ssl_cert = ${join(ssl, 'server.pem')}`, `ssl_key = ${join(ssl, 'server.key')}`, `ssl_ca = ${join(ssl, 'ca.pem')}`, '',
    ].join('\n'));
    const server = await startServer(serverConf);
    stopServer = server.stop;
    await writeFile(nodeConf, [
      'server = 127.0.0.1', `port = ${server.port}`, 'server_name = localhost', `include = ${sample}`,
      `ssl_cert = ${join(ssl, 'clients', 'demo-node.pem')}`, `ssl_key = ${join(ssl, 'clients', 'demo-node.key')}`, `ssl_ca = ${join(ssl, 'ca.pem')}`,
      `work_directory = ${join(root, 'work')}`, `state_directory = ${join(root, 'state')}`, '',
    ].join('\n'));

    step('a first backup, a second with nothing changed, the list, one backup\'s files');
    await runCommand('cpsbackup', ['-c', nodeConf, '-e']);
    await runCommand('cpsbackup', ['-c', nodeConf, '-e']);
    await runCommand('cpsbackup', ['-c', nodeConf, '-l']);
    await runCommand('cpsbackup', ['-c', nodeConf, '-s', '2']);
    step('restore the newest backup into a folder of its own');
    const target = join(root, 'restored');
    await runCommand('cpsbackup', ['-c', nodeConf, '-i', '--to', target]);

    step('verify: the restored tree equals the sample byte for byte (content, modes, symlinks, empty folders)');
    const differences = await compareTrees(sample, join(target, sample));
    if (differences.length > 0) {
      process.stdout.write(`${differences.join('\n')}\nDEMO FAILED\n`);
      return 1;
    }
    process.stdout.write('identical\n');
    await server.stop();
    stopServer = undefined;
    step('server stopped; demo OK');
    return 0;
  } finally {
    await stopServer?.();
    await rm(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (error) => {
  process.stderr.write(`demo failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
