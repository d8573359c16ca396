// Regression (red team redconf, sighup-ignores-server-conf): a raised keep in server.conf and a SIGHUP were ignored
// without a word (server.conf is read at start only). On SIGHUP the server now logs, as a warning, which settings
// changed on disk and are not applied before a restart; this is the comparison it logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverConfigFromText } from '../src/common/config/server-config';
import { changedSettings } from '../src/cli/server-conf-changes';

test('the server.conf settings changed on disk are named, and none when nothing changed', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'server-conf-changes-'));
  t.after(() => rmSync(folder, { recursive: true, force: true }));
  const file = join(folder, 'server.conf');
  for (const name of ['server.conf', 's.pem', 's.key', 'ca.pem']) writeFileSync(join(folder, name), '');
  const ssl = 'ssl_cert = s.pem\nssl_key = s.key\nssl_ca = ca.pem\n';
  const running = serverConfigFromText(file, `directory = store\nkeep = 2\n${ssl}`);
  assert.deepEqual(changedSettings(running, serverConfigFromText(file, `directory = store\nkeep = 2\n${ssl}`)), []);
  const changed = changedSettings(running, serverConfigFromText(file, `directory = store\nkeep = 10\nmax_children = 3\n${ssl}`));
  assert.ok(changed.some((key) => /keep/i.test(key)), changed.join(', '));
  assert.ok(changed.some((key) => /children/i.test(key)), changed.join(', '));
});
