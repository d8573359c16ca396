// retention --dry-run reads the catalog with SQLite, read-only. Run by a user who may not read catalog.db,
// or who may read it but not write its folder (SQLite keeps a WAL catalog's -shm index there), it said
// the catalog could not be read as one, as if damaged: it names the cause and says to run as the owner.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../src/chunkstore/catalog/catalog';
import { CommittedBackups } from '../src/chunkstore/read/committed-backups';

const OTHER_UID = 65534;
const notRoot = process.getuid?.() === 0 ? false : 'acting as another user (seteuid) needs root';

/** Runs `read` with the effective ids of another user, back to root after. */
function asOtherUser<T>(read: () => T): T {
  process.setegid!(OTHER_UID);
  process.seteuid!(OTHER_UID);
  try {
    return read();
  } finally {
    process.seteuid!(0);
    process.setegid!(0);
  }
}

test('a dry run that may not open the catalog says why and who should run it', { skip: notRoot }, (t) => {
  const directory = mkdtempSync(join(tmpdir(), 'cpsbackup-committed-access-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  new Catalog(join(directory, 'catalog.db')).close();
  chmodSync(directory, 0o755);

  chmodSync(join(directory, 'catalog.db'), 0o600);
  assert.throws(() => asOtherUser(() => CommittedBackups.open(directory, 'local')),
    new RegExp(`^BackupError: cannot read ${join(directory, 'catalog.db')} \\(EACCES: .*\\): run this as the store's owner$`));

  chmodSync(join(directory, 'catalog.db'), 0o644);
  assert.throws(() => asOtherUser(() => CommittedBackups.open(directory, 'local')),
    new RegExp(`cannot be opened for reading \\(.*\\): SQLite reads a catalog in WAL mode only with write access to ${directory} `));

  // Its owner (here root) reads it.
  const backups = CommittedBackups.open(directory, 'local');
  assert.deepEqual(backups.knownClients(), []);
  backups.close();
});
