// Proves a SQLite round trip through the real CLI and server while another process keeps writing:
// the backup holds one consistent snapshot, and `cpsbackup -i` puts it back in place of the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isOnPath } from '../src/client/sources/shell';
import { Sandbox, type CommandResult } from './support/sandbox';
import { sqliteWriterScript } from './support/sqlite-writer';

const skip = isOnPath('sqlite3') ? undefined : 'the sqlite3 command is not installed (run scripts/install-databases.sh)';
if (skip !== undefined) console.log(`e2e-dump-sqlite skipped: ${skip}`);
const BATCH_ROWS = 50;
const INITIAL_ROWS = 200_000;

const WRITER_SCRIPT = sqliteWriterScript(BATCH_ROWS, 'written during the backup', 2);

function ok(result: CommandResult, what: string): CommandResult {
  assert.equal(result.code, 0, `${what} exited ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

async function startWriter(folder: string, databasePath: string): Promise<ChildProcess> {
  const script = join(folder, 'writer.js');
  await writeFile(script, WRITER_SCRIPT);
  const writer = spawn(process.execPath, [script, require.resolve('better-sqlite3'), databasePath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [data] = await Promise.race([
    once(writer.stdout!, 'data') as Promise<[Buffer]>,
    once(writer, 'exit').then(([code]) => { throw new Error(`writer exited (${String(code)}) before writing`); }),
  ]);
  assert.equal(data.toString(), 'ready\n');
  return writer;
}

async function stopWriter(writer: ChildProcess): Promise<void> {
  if (writer.exitCode !== null || writer.signalCode !== null) return;
  const exited = once(writer, 'exit');
  writer.kill('SIGKILL'); // a killed writer is what SQLite's journal exists for
  await exited;
}

test('a SQLite database written to during -e: -i brings back one consistent snapshot in its place', { skip }, async () => {
  const sandbox = await Sandbox.create();
  let writer: ChildProcess | undefined;
  try {
    await sandbox.startServer();
    const databasePath = join(sandbox.root, 'app', 'app.sqlite');
    await mkdir(join(sandbox.root, 'app'));
    const database = new Database(databasePath);
    database.pragma('journal_mode = wal');
    database.exec('CREATE TABLE entries (id INTEGER PRIMARY KEY, payload TEXT NOT NULL); CREATE TABLE counter (total INTEGER NOT NULL); INSERT INTO counter VALUES (0);');
    const insert = database.prepare('INSERT INTO entries (payload) VALUES (?)');
    database.transaction(() => {
      for (let row = 0; row < INITIAL_ROWS; row++) insert.run(`initial row ${row} ${'x'.repeat(60)}`);
      database.prepare('UPDATE counter SET total = ?').run(INITIAL_ROWS);
    })();
    database.close();
    const storage = join(sandbox.root, 'storage.conf');
    await writeFile(storage, ['source = app', 'kind = sqlite', `path = ${databasePath}`, ''].join('\n'));
    const config = await sandbox.writeNodeConfig('node1', [`storage_conf = ${storage}`]);
    const cli = (...args: string[]): Promise<CommandResult> => sandbox.runClient(['-c', config, ...args]);

    writer = await startWriter(sandbox.root, databasePath);
    ok(await cli('-e'), '-e while the writer runs');
    assert.equal(writer.exitCode, null, 'the writer kept running through the backup');
    await stopWriter(writer);
    const source = new Database(databasePath, { readonly: true });
    const written = (source.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
    source.close();

    ok(await cli('-i'), '-i (the application is stopped)');
    const restored = new Database(databasePath, { readonly: true });
    try {
      assert.equal(restored.pragma('integrity_check', { simple: true }), 'ok');
      const entries = (restored.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n;
      const total = (restored.prepare('SELECT total FROM counter').get() as { total: number }).total;
      console.log(`e2e-dump-sqlite: ${INITIAL_ROWS} initial rows, ${written} when the writer stopped, ${entries} in the restored snapshot`);
      assert.equal(entries, total, 'rows and counter from the same transaction: a consistent snapshot');
      assert.ok(entries > INITIAL_ROWS && entries <= written, `${entries} rows: some written during the backup, none invented`);
      const maximum = (restored.prepare('SELECT max(id) AS id FROM entries').get() as { id: number }).id;
      assert.equal(maximum, entries, 'no gaps: a prefix of what the writer wrote');
    } finally {
      restored.close();
    }
    await assert.rejects(stat(join(sandbox.root, 'work', 'node1', 'dumps', 'app', 'dump.sql')), { code: 'ENOENT' });
  } finally {
    if (writer) await stopWriter(writer);
    await sandbox.destroy();
  }
});
