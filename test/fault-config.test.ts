// Configuration mistakes (issue 7, scenario 12): an unknown key, a bad number and a missing certificate
// file, in server.conf and in node.conf, each give exactly one stderr line naming file:line and exit 2,
// for both CLIs and every server subcommand that reads the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Sandbox, runNode } from './support/sandbox';

const CLI = resolve(__dirname, '..', 'src', 'cli');

interface Mistake {
  readonly name: string;
  /** Turns the good file's lines into the broken ones; returns the 1-based line the error must name. */
  readonly apply: (lines: string[]) => number;
  readonly message: RegExp;
}

const mistakes: Mistake[] = [
  { name: 'an unknown key', apply: (lines) => { lines.splice(2, 0, 'colour = blue'); return 3; }, message: /colour/ },
  { name: 'a bad number', apply: (lines) => replaceKey(lines, 'port', 'port = forty-two'), message: /port/ },
  { name: 'a missing certificate file', apply: (lines) => replaceKey(lines, 'ssl_cert', 'ssl_cert = /nonexistent/cert.pem'), message: /\/nonexistent\/cert\.pem/ },
];

function replaceKey(lines: string[], key: string, replacement: string): number {
  const index = lines.findIndex((line) => line.startsWith(`${key} =`) || line.startsWith(`${key}=`));
  assert.ok(index >= 0, `fixture: ${key} is in the file`);
  lines[index] = replacement;
  return index + 1;
}

async function assertOneLine(command: Promise<{ code: number | null; stderr: string; stdout: string }>, file: string, line: number, message: RegExp): Promise<void> {
  const result = await command;
  assert.equal(result.code, 2, `exit code: ${result.stdout}${result.stderr}`);
  const stderrLines = result.stderr.split('\n').filter((text) => text !== '');
  assert.equal(stderrLines.length, 1, `exactly one line on stderr, got:\n${result.stderr}`);
  assert.ok(stderrLines[0].includes(`${file}:${line}:`), `names ${file}:${line}: ${stderrLines[0]}`);
  assert.match(stderrLines[0], message);
}

test('server.conf mistakes: one line naming file:line, exit 2, for run, gc and check', async () => {
  const sandbox = await Sandbox.create();
  try {
    const good = (await readFile(sandbox.serverConfigFile, 'utf8')).split('\n');
    for (const mistake of mistakes) {
      const lines = [...good];
      const line = mistake.apply(lines);
      const file = join(sandbox.root, `server-${mistake.name.replace(/\W+/g, '-')}.conf`);
      await writeFile(file, lines.join('\n'));
      for (const args of [[], ['gc'], ['check', '--read-data']]) {
        await assertOneLine(runNode(join(CLI, 'cpsbackup-server.js'), ['-c', file, ...args], 60_000), file, line, mistake.message);
      }
    }
  } finally {
    await sandbox.destroy();
  }
});

test('node.conf mistakes: one line naming file:line, exit 2, for every action', async () => {
  const sandbox = await Sandbox.create();
  try {
    await sandbox.startServer();
    const goodFile = await sandbox.writeNodeConfig('node1', [`include = ${sandbox.root}/nothing`]);
    const good = (await readFile(goodFile, 'utf8')).split('\n');
    for (const mistake of mistakes) {
      const lines = [...good];
      const line = mistake.apply(lines);
      const file = join(sandbox.root, `node-${mistake.name.replace(/\W+/g, '-')}.conf`);
      await writeFile(file, lines.join('\n'));
      for (const args of [['-e'], ['-l'], ['-s', '1'], ['-i', '--to', join(sandbox.root, 'r')], ['-d', '1']]) {
        await assertOneLine(sandbox.runClient(['-c', file, ...args]), file, line, mistake.message);
      }
    }
  } finally {
    await sandbox.destroy();
  }
});
