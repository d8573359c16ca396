// Regression: root ran `sqlite3 PATH .dump` on a database in an application user's folder, and sqlite3
// follows a symlink there: that user pointed the name at one of root's databases, and root's rows went
// into the backup (and, restored, to the user). Proves root now runs sqlite3 as the folder's owner (a
// symlink to a root-only database, and a root-only database itself, fail naming that user; the user's
// own database dumps as before), and refuses a root folder others may write to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, chown, lchown, mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DumpFailedError } from '../src/common/errors';
import { isOnPath } from '../src/client/sources/shell';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';

const NOBODY = 65534;
const skip = !isOnPath('sqlite3') ? 'the sqlite3 command is not installed (run scripts/install-databases.sh)'
  : process.geteuid?.() !== 0 ? 'needs root: the dump runs as another user only when root runs it' : undefined;
if (skip !== undefined) console.log(`sqlite-dump-user skipped: ${skip}`);

function makeDatabase(path: string, value: string, journalMode = 'delete'): void {
  const database = new Database(path);
  try {
    database.pragma(`journal_mode = ${journalMode}`);
    database.exec(`CREATE TABLE rows (value TEXT); INSERT INTO rows VALUES ('${value}')`);
  } finally {
    database.close();
  }
}

function configFor(path: string): ReturnType<typeof storageConfigFromText> {
  return storageConfigFromText('storage.conf', `source = app\nkind = sqlite\npath = ${path}\n`);
}

/** A folder above everything the test makes that `nobody` may enter, and the application's folder of nobody's in it. */
async function withAppFolder(run: (folder: string, app: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-dump-user-'));
  try {
    await chmod(folder, 0o755);
    const app = join(folder, 'app');
    await mkdir(app, { mode: 0o755 });
    await chown(app, NOBODY, NOBODY);
    await run(folder, app);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function assertDumpFailsAsNobody(config: ReturnType<typeof configFor>, folder: string): Promise<void> {
  await assert.rejects(dumpToFiles(config, join(folder, 'work'), join(folder, 'restore')), (error: unknown) => {
    assert.ok(error instanceof DumpFailedError, String(error));
    assert.match(error.message, /ran as uid 65534, gid 65534/);
    assert.doesNotMatch(error.message, /root-only/);
    return true;
  });
}

test('a symlink an application user puts at its database\'s name does not make root dump another database', { skip }, async () => {
  await withAppFolder(async (folder, app) => {
    const rootDatabase = join(folder, 'root.sqlite');
    makeDatabase(rootDatabase, 'root-only');
    await chmod(rootDatabase, 0o600);
    const planted = join(app, 'app.sqlite');
    await symlink(rootDatabase, planted);
    await lchown(planted, NOBODY, NOBODY);
    await assertDumpFailsAsNobody(configFor(planted), folder);
  });
});

test('a root-only database in a user\'s folder is dumped as that user, so not read', { skip }, async () => {
  await withAppFolder(async (folder, app) => {
    const path = join(app, 'app.sqlite');
    makeDatabase(path, 'root-only');
    await chmod(path, 0o600);
    await assertDumpFailsAsNobody(configFor(path), folder);
  });
});

for (const journalMode of ['wal', 'delete']) {
  test(`the user's own database in their folder dumps as before (journal_mode=${journalMode})`, { skip }, async () => {
    await withAppFolder(async (folder, app) => {
      const path = join(app, 'app.sqlite');
      makeDatabase(path, 'the app row', journalMode);
      // sqlite3 as nobody must be able to write the -wal and -shm files beside it.
      execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, app]);
      const config = configFor(path);
      const restored = await dumpToFiles(config, join(folder, 'work'), join(folder, 'restore'));
      assert.match(await readFile(restored[0].path, 'utf8'), /INSERT INTO "?rows"? VALUES\('the app row'\);/);
    });
  });
}

test('a path through a user\'s symlink in their own folder (a deployment\'s current -> release) dumps as that user', { skip }, async () => {
  await withAppFolder(async (folder, app) => {
    const release = join(app, 'release-1');
    await mkdir(release);
    makeDatabase(join(release, 'app.sqlite'), 'the app row');
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, release]);
    const current = join(app, 'current');
    await symlink('release-1', current);
    await lchown(current, NOBODY, NOBODY);
    const restored = await dumpToFiles(configFor(join(current, 'app.sqlite')), join(folder, 'work'), join(folder, 'restore'));
    assert.match(await readFile(restored[0].path, 'utf8'), /'the app row'/);
    // The same symlink pointed at root's database: read as nobody, so not read.
    const rootDatabase = join(folder, 'root.sqlite');
    makeDatabase(rootDatabase, 'root-only');
    await chmod(rootDatabase, 0o600);
    await rm(current);
    await symlink(folder, current);
    await lchown(current, NOBODY, NOBODY);
    await assertDumpFailsAsNobody(configFor(join(current, 'root.sqlite')), folder);
  });
});

test('root refuses to run sqlite3 in a root folder others may write to', { skip }, async () => {
  await withAppFolder(async (folder) => {
    const shared = join(folder, 'shared');
    await mkdir(shared);
    await chmod(shared, 0o1777);
    const path = join(shared, 'app.sqlite');
    makeDatabase(path, 'root row');
    await assertDumpRefused(configFor(path), join(folder, 'work'), 'app', /shared may be written to by others \(mode 1777\), so root does not run sqlite3 there/);
  });
});

test('root still dumps a database in a folder of root\'s alone', { skip }, async () => {
  await withAppFolder(async (folder) => {
    const path = join(folder, 'root.sqlite');
    makeDatabase(path, 'root row');
    await chmod(path, 0o600);
    const restored = await dumpToFiles(configFor(path), join(folder, 'work'), join(folder, 'restore'));
    assert.match(await readFile(restored[0].path, 'utf8'), /'root row'/);
  });
});
