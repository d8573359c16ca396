// Certificates made by cpsbackup-ca in a temp folder, and the TlsFiles a configuration would name
// them with (ssl_cert on line 3, ssl_key on 4, ssl_ca on 5), for the TLS file checks' tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TlsFiles } from '../../src/common/tls/tls-files';
import { runNode } from './sandbox';

const caCli = resolve(__dirname, '..', '..', 'src', 'cli', 'cpsbackup-ca.js');

/** The ssl folder after running each `cpsbackup-ca SUBCOMMAND --dir ssl ARGS…` step; removed after the test. */
export async function caFolder(t: { after(fn: () => Promise<void>): void }, prefix: string, steps: readonly (readonly string[])[]): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const ssl = join(folder, 'ssl');
  for (const [subcommand, ...rest] of steps) {
    const made = await runNode(caCli, [subcommand, '--dir', ssl, ...rest], 60_000);
    assert.equal(made.code, 0, made.stderr);
  }
  return ssl;
}

export function tlsFilesAt(cert: string, key: string, ca: string): TlsFiles {
  const line = (name: string, path: string, number: number) => ({ entry: { key: name, value: path, line: number }, path });
  return { cert: line('ssl_cert', cert, 3), key: line('ssl_key', key, 4), ca: line('ssl_ca', ca, 5) } as unknown as TlsFiles;
}
