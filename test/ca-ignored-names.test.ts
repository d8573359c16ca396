// Regression (red team redconf, ca-name-server-ignores): `cpsbackup-ca client nas.bak` issued a certificate and
// told the operator to create <clientconfdir>/nas.bak, a file the server skips as an editor's backup: the client
// was then refused. The CA and the server now share one predicate: such names are refused (exit 2), saying why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/cpsbackup-ca';
import { isIgnoredRecordName } from '../src/common/config/ignored-record-names';

async function ca(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main([...args], { write: (text) => { out += text; } }, { write: (text) => { err += text; } });
  return { code, out, err };
}

test('cpsbackup-ca refuses every client name whose record the server would skip, and issues the others', async (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'ca-ignored-names-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  assert.equal((await ca(['init', '--dir', folder])).code, 0);
  const skipped = ['nas.bak', 'nas.BAK', 'node1.old', 'node1.orig', 'node1.tmp', 'node1.rej', 'node1.swp', 'node1.swo',
    'node1.dpkg-old', 'node1.dpkg-dist', 'node1.ucf-new', 'node1.rpmnew', 'node1.rpmsave', 'node1.rpmorig'];
  for (const name of skipped) {
    assert.ok(isIgnoredRecordName(name), `${name}: the server skips it`);
    const result = await ca(['client', '--dir', folder, name]);
    assert.equal(result.code, 2, `${name}: ${result.out}${result.err}`);
    assert.match(result.err, new RegExp(`^cpsbackup-ca: .*"${name.replace(/\./g, '\\.')}" cannot be a client name: the server skips a file of that name in its clients folder`), name);
    assert.equal(existsSync(join(folder, 'clients', `${name}.pem`)), false, `${name}: no certificate written`);
  }
  for (const name of ['node1', 'nas.backup', 'oldnode', 'bak', 'web-01.example.org']) {
    assert.ok(!isIgnoredRecordName(name), name);
    const result = await ca(['client', '--dir', folder, name]);
    assert.equal(result.code, 0, `${name}: ${result.err}`);
    assert.match(result.out, new RegExp(`file <clientconfdir>/${name.replace(/\./g, '\\.')}:`));
  }
});
