// Regression (operator review): `exclude_regex = \.tmp$ # temp files` was taken as the regex with the
// comment (it never matches), silently; every free-text key did the same (postprocess, server_name…),
// where numbers and switches refuse such a value. Such a value is now warned of with file:line. And an
// empty `exclude_regex =` was accepted (matching every path, shown later as "(?:)"): refused at load, exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';
import { configError } from './support/config-errors';
import { loadNodeConfig, nodeConfigFromText } from '../src/common/config/node-config';
import { loadServerConfig } from '../src/common/config/server-config';

const CLI = resolve(__dirname, '..', 'src', 'cli', 'cpsbackup.js');

function nodeLines(sandbox: Sandbox): string[] {
  return [
    'server = 127.0.0.1', 'port = 1',
    `ssl_cert = ${join(sandbox.sslDirectory, 'clients', 'node1.pem')}`, `ssl_key = ${join(sandbox.sslDirectory, 'clients', 'node1.key')}`,
    `ssl_ca = ${join(sandbox.sslDirectory, 'ca.pem')}`, `work_directory = ${join(sandbox.root, 'work')}`, `state_directory = ${join(sandbox.root, 'state')}`,
    `include = ${sandbox.root}`,
  ];
}

test('a value holding " #" (a comment after it) is warned of with file:line; "#" without a space before it is not', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const file = join(sandbox.root, 'node.conf');
  const lines = [...nodeLines(sandbox), 'exclude_regex = \\.tmp$ # temp files', 'exclude_regex = a#b', 'postprocess = /bin/true\t# reload the app'];
  await writeFile(file, `${lines.join('\n')}\n`);
  const config = loadNodeConfig(file);
  const warnings = config.warnings.filter((warning) => warning.includes('" #"'));
  assert.equal(warnings.length, 2, config.warnings.join('\n'));
  assert.match(warnings[0], new RegExp(`^${file}:9: exclude_regex = "\\\\\\.tmp\\$ # temp files" holds " #": a comment after a value is part of the value`));
  assert.match(warnings[1], new RegExp(`^${file}:11: postprocess = `));
  assert.equal(String(config.excludeRegex[0]), '/\\.tmp$ # temp files/', 'still taken as written: a warning, not a refusal');

  // The CLI prints it once, as a warning, and goes on.
  const listed = await runNode(CLI, ['-c', file, '-l'], 60_000);
  assert.match(listed.stderr, new RegExp(`^cpsbackup: warning: ${file}:9: exclude_regex = `, 'm'));

  // server.conf the same.
  const serverText = await readFile(sandbox.serverConfigFile, 'utf8');
  await writeFile(sandbox.serverConfigFile, serverText.replace(/^directory = .*$/m, '$& # the backup disk'));
  const serverWarnings = loadServerConfig(sandbox.serverConfigFile).warnings;
  assert.ok(serverWarnings.some((warning) => /server\.conf:\d+: directory = ".* # the backup disk" holds " #"/.test(warning)), serverWarnings.join('\n'));
});

test('an empty exclude_regex is refused at load, naming file and line; the CLI exits 2', async (t) => {
  const sandbox = await Sandbox.create();
  t.after(() => sandbox.destroy());
  const file = join(sandbox.root, 'node.conf');
  const lines = [...nodeLines(sandbox), 'exclude_regex ='];
  assert.throws(() => nodeConfigFromText(file, `${lines.join('\n')}\n`), configError(9, /exclude_regex is empty: it would match every path/));
  await writeFile(file, `${lines.join('\n')}\n`);
  const result = await runNode(CLI, ['-c', file, '-l'], 60_000);
  assert.equal(result.code, 2, result.stdout + result.stderr);
  assert.match(result.stderr, new RegExp(`${file}:9: exclude_regex is empty`));
});
