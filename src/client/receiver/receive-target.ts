// Where a receiver loads a source: the database (or file, or load command) its dumps go into here. The
// receive state records it per source, and a source whose target changed since (--load-into, an edited
// storage.conf) starts again from a complete backup: a partial on a database that never had its base is no
// replica. Kind and location only, never a password, as the sender's source identity.
import { createHash } from 'node:crypto';
import type { DumpSource } from '../sources/storage-config';
import { loadIntoFor, type LoadInto } from '../sources/load-into';
import { sourceIdentity } from '../sources/source-identity';

export function receiveTargetOf(source: DumpSource, loadInto: LoadInto | undefined): string {
  switch (source.kind) {
    case 'command':
      // What loads the dump decides where it goes; the dump command is the sender's.
      return `command load sha256:${createHash('sha256').update(`${source.load}\n${source.loadPartial ?? ''}`).digest('hex').slice(0, 32)}`;
    case 'postgresql':
    case 'mariadb': {
      const database = (loadInto === undefined ? undefined : loadIntoFor(loadInto, source)) ?? source.database;
      return sourceIdentity({ ...source, database });
    }
    default:
      return sourceIdentity(source);
  }
}
