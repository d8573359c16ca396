// Regression: root ran `sqlite3 PATH .dump` on a database whose path an application's user controls, and
// sqlite3 follows symlinks there: that user pointed the name at one of root's databases (directly, or
// through a symlink of root's into their folder), and root's rows went into the backup (and, restored, to
// the user). Proves root now runs sqlite3 as itself only on a path no one else may change, as the one
// user who may change it only for a database of theirs (with their own primary group), and refuses the rest.
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
import { sqliteDumpPlace } from '../src/client/sources/sqlite-dump-user';
import { assertDumpRefused, dumpToFiles } from './support/dump-to-files';

const NOBODY = 65534;
const WWW_DATA = 33;
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

/** A folder of root's that `nobody` may enter, the application's folder of nobody's in it, and root's own database beside it. */
async function withAppFolder(run: (folder: string, app: string, rootDatabase: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-sqlite-dump-user-'));
  try {
    await chmod(folder, 0o755);
    const app = join(folder, 'app');
    await mkdir(app, { mode: 0o755 });
    await chown(app, NOBODY, NOBODY);
    const rootDatabase = join(folder, 'root.sqlite');
    makeDatabase(rootDatabase, 'root-only');
    await chmod(rootDatabase, 0o600);
    await run(folder, app, rootDatabase);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

async function assertNotDumped(path: string, folder: string, message: RegExp): Promise<void> {
  await assert.rejects(dumpToFiles(configFor(path), join(folder, 'work'), join(folder, 'restore')), (error: unknown) => {
    assert.ok(error instanceof DumpFailedError, String(error));
    assert.match(error.message, message);
    assert.doesNotMatch(error.message, /root-only/);
    return true;
  });
}

async function plantSymlink(target: string, at: string, owner = NOBODY): Promise<void> {
  await symlink(target, at);
  await lchown(at, owner, owner);
}

test('a symlink an application user puts at its database\'s name does not make root dump another database', { skip }, async () => {
  await withAppFolder(async (folder, app, rootDatabase) => {
    await plantSymlink(rootDatabase, join(app, 'app.sqlite'));
    await assertNotDumped(join(app, 'app.sqlite'), folder, /uid 65534 may replace a name on its path, but the database \(.*root\.sqlite\) belongs to uid 0/);
  });
});

test('a symlink of root\'s, in a folder of root\'s, into a user\'s folder: what the user puts there is not read as root', { skip }, async () => {
  await withAppFolder(async (folder, app, rootDatabase) => {
    const rootSide = join(folder, 'configured');
    await mkdir(rootSide);
    await symlink(join(app, 'app.sqlite'), join(rootSide, 'app.sqlite'));
    await plantSymlink(rootDatabase, join(app, 'app.sqlite'));
    await assertNotDumped(join(rootSide, 'app.sqlite'), folder, /uid 65534 may replace a name on its path/);
  });
});

test('a database of root\'s, or of another user\'s, in a user\'s folder is refused, not read as either', { skip }, async () => {
  await withAppFolder(async (folder, app) => {
    const path = join(app, 'app.sqlite');
    makeDatabase(path, 'root-only', 'wal');
    await assertNotDumped(path, folder, /belongs to uid 0/);
    // Run as the folder's owner, sqlite3 would make -shm and -wal files the database's owner cannot write.
    execFileSync('chown', [`${WWW_DATA}:${WWW_DATA}`, path]);
    await assertNotDumped(path, folder, /uid 65534 may replace a name on its path, but the database .* belongs to uid 33/);
  });
});

for (const journalMode of ['wal', 'delete']) {
  test(`the user's own database on a path only they control dumps as that user (journal_mode=${journalMode})`, { skip }, async () => {
    await withAppFolder(async (folder, app) => {
      const path = join(app, 'app.sqlite');
      makeDatabase(path, 'the app row', journalMode);
      execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, app]);
      const restored = await dumpToFiles(configFor(path), join(folder, 'work'), join(folder, 'restore'));
      assert.match(await readFile(restored[0].path, 'utf8'), /INSERT INTO "?rows"? VALUES\('the app row'\);/);
    });
  });
}

test('the user runs with their own primary group, not the folder\'s', { skip }, async () => {
  await withAppFolder(async (_folder, app) => {
    await chown(app, NOBODY, WWW_DATA);
    const path = join(app, 'app.sqlite');
    makeDatabase(path, 'the app row');
    await chown(path, NOBODY, WWW_DATA);
    const primary = Number(execFileSync('id', ['-g', String(NOBODY)], { encoding: 'utf8' }).trim());
    assert.deepEqual(sqliteDumpPlace('app', path).runAs, { uid: NOBODY, gid: primary });
  });
});

test('a path through a user\'s symlink in their own folder (a deployment\'s current -> release) dumps as that user', { skip }, async () => {
  await withAppFolder(async (folder, app, rootDatabase) => {
    const release = join(app, 'release-1');
    await mkdir(release);
    makeDatabase(join(release, 'app.sqlite'), 'the app row');
    execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, release]);
    const current = join(app, 'current');
    await plantSymlink('release-1', current);
    const restored = await dumpToFiles(configFor(join(current, 'app.sqlite')), join(folder, 'work'), join(folder, 'restore'));
    assert.match(await readFile(restored[0].path, 'utf8'), /'the app row'/);
    // The same symlink pointed at root's folder: refused, root's database not read.
    await rm(current);
    await plantSymlink(folder, current);
    await assertNotDumped(join(current, 'root.sqlite'), folder, /uid 65534 may replace a name on its path/);
    assert.ok(rootDatabase.endsWith('root.sqlite'));
  });
});

test('a path two users control is refused', { skip }, async () => {
  await withAppFolder(async (folder, app) => {
    const inner = join(app, 'data');
    await mkdir(inner);
    const path = join(inner, 'app.sqlite');
    makeDatabase(path, 'the app row');
    execFileSync('chown', ['-R', `${WWW_DATA}:${WWW_DATA}`, inner]);
    await assertNotDumped(path, folder, /users 65534, 33 may each replace a name on its path/);
  });
});

test('root refuses to run sqlite3 in a folder a group or anyone may write to', { skip }, async () => {
  await withAppFolder(async (folder) => {
    for (const mode of [0o1777, 0o2770]) {
      const shared = join(folder, `shared-${mode.toString(8)}`);
      await mkdir(shared);
      await chmod(shared, mode);
      const path = join(shared, 'app.sqlite');
      makeDatabase(path, 'root row');
      if ((mode & 0o1000) !== 0) {
        // Sticky: only the entry's owner may replace it, but anyone may put a hot journal beside it first.
        await chown(path, NOBODY, NOBODY);
        await assertDumpRefused(configFor(path), join(folder, 'work'), 'app', new RegExp(`others may create files in ${shared} \\(mode 1777\\), beside the database`));
      } else {
        await assertDumpRefused(configFor(path), join(folder, 'work'), 'app', new RegExp(`a group or anyone may replace entries in ${shared}, on its path`));
      }
    }
  });
});

test('root still dumps a database on a path of root\'s alone', { skip }, async () => {
  await withAppFolder(async (folder, _app, rootDatabase) => {
    const restored = await dumpToFiles(configFor(rootDatabase), join(folder, 'work'), join(folder, 'restore'));
    assert.match(await readFile(restored[0].path, 'utf8'), /'root-only'/);
  });
});
