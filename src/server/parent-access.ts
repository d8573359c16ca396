// Which of its own backups a client may read as the parent of its next backup, and how much of it.
// Telling unchanged files needs only the newest backup's check fields; anything more is listing.
import type { ClientRecord } from '../common/config/client-record';
import type { ChunkStore } from '../chunkstore/store';
import { requireRight } from './auth';

export interface ParentAccess {
  /** The backup asked for: 0 means the newest. */
  readonly backupId: number;
  /** Only the fields an unchanged-file check reads (ParentRequest.unchanged_check_only). */
  readonly isUnchangedCheckOnly: boolean;
}

/**
 * Refuses, without client_can_list, a parent other than the newest backup or one with full entries
 * (xattr values, symlink targets): either would show what `-s` shows. Checked before the backup is
 * looked up, so a refusal says nothing about which backups exist.
 */
export function requireParentAccess(caller: ClientRecord, store: ChunkStore, access: ParentAccess): void {
  if (caller.rights.canList) return;
  if (!access.isUnchangedCheckOnly) {
    requireRight(caller, 'canList', 'read a backup\'s full entries (a backup reads only what tells an unchanged file)');
  }
  if (access.backupId !== 0 && access.backupId !== store.findBackup(caller.name, 0)?.number) {
    requireRight(caller, 'canList', `read backup ${access.backupId} as a parent (a backup reads only the newest)`);
  }
}
