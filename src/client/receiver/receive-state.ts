// What this receiver last applied from a client, kept in state_directory/receive/<client>.json.
// Written atomically (temp file, fsync, rename, fsync of the folder): a crash leaves the old or the new state.
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { BackupError, CorruptError, errorMessage } from '../../common/errors';
import type { AppliedBackup } from './receive-plan';

export interface ReceiveState {
  readonly client: string;
  /** The newest backup whose dumps were loaded and post-processed. */
  readonly backupId: number;
  readonly kind: 'complete' | 'partial';
  /** With the id and kind, what tells the applied backup from another one that took its number on a new server. */
  readonly backupStartedAt: string;
  readonly appliedAt: string;
  /**
   * Sources of the sender whose dumps were not loaded here (no source of that name) since the last
   * complete backup applied: said again while nothing is new, and once one is named here the receive
   * starts again from a complete backup, as a partial on a database that never had its base is no replica.
   */
  readonly unloadedSources?: readonly string[];
  /** Sources named here that the newest applied backup holds no dump of: said again while nothing is new. */
  readonly absentSources?: readonly string[];
  /**
   * Sources of the sender whose dumps were left out on purpose since the last complete backup applied
   * (receive_ignore, --load-into, no storage.conf): not warned of, but once one is loaded here the
   * receive starts again from a complete backup, as for unloadedSources.
   */
  readonly skippedSources?: readonly string[];
  /**
   * Where each source was last loaded here (receive-target.ts), by source name. A receive whose target for a
   * source differs starts again from a complete backup. Absent in states written before it was kept.
   */
  readonly loadedInto?: Readonly<Record<string, string>>;
}

/** Receiving this node's own backups (no --client) needs a key no client name can take. */
export const OWN_BACKUPS_KEY = '.own';

export function receiveFolder(stateDirectory: string): string {
  return join(stateDirectory, 'receive');
}

function stateFile(stateDirectory: string, clientKey: string): string {
  return join(receiveFolder(stateDirectory), `${clientKey}.json`);
}

/** Undefined when nothing was ever applied; a file that is not a state is an error, not a fresh start. */
export async function readReceiveState(stateDirectory: string, clientKey: string): Promise<ReceiveState | undefined> {
  const file = stateFile(stateDirectory, clientKey);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let state: Partial<ReceiveState>;
  try {
    state = JSON.parse(text) as Partial<ReceiveState>;
  } catch {
    state = {};
  }
  // Starting over silently would reload and re-run postprocess on data the operator may have changed.
  if (!Number.isSafeInteger(state.backupId) || (state.backupId ?? 0) < 1 || (state.kind !== 'complete' && state.kind !== 'partial')
    || typeof state.backupStartedAt !== 'string' || Number.isNaN(Date.parse(state.backupStartedAt))
    || (state.loadedInto !== undefined && (typeof state.loadedInto !== 'object' || state.loadedInto === null || Array.isArray(state.loadedInto)
      || Object.values(state.loadedInto).some((target) => typeof target !== 'string')))) {
    throw new CorruptError(`${file} is not a receive state (remove it to receive the newest backup from scratch)`);
  }
  return state as ReceiveState;
}

export function appliedBackupOf(state: ReceiveState): AppliedBackup {
  return { backupId: state.backupId, startedAtMs: Date.parse(state.backupStartedAt), kind: state.kind };
}

/**
 * A state_directory that is full, read-only or gone is named with the file and what it means: the loads
 * ran, but the next receive does not know it (one line, never Node's bare "ENOSPC: …, write").
 */
export async function writeReceiveState(stateDirectory: string, clientKey: string, state: ReceiveState): Promise<void> {
  const file = stateFile(stateDirectory, clientKey);
  try {
    await writeStateFile(receiveFolder(stateDirectory), file, state);
  } catch (error) {
    throw new BackupError('IO', `cannot record what was applied in ${file} (${errorMessage(error)}): the loads ran, but the next receive `
      + 'does not know it and applies them again; give state_directory (node.conf) free space this user can write', { cause: error });
  }
}

async function writeStateFile(folder: string, file: string, state: ReceiveState): Promise<void> {
  await mkdir(folder, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  // Made new, never opened through what is there: a symlink at that name (a crashed run's file is removed
  // first) would otherwise have root truncate and write the file it points to.
  await unlink(temporary).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  const directory = await open(folder, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
