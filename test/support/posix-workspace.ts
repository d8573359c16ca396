// A temporary folder for the posix addon's tests, and a descriptor open on it for the *at calls: made
// before the file's tests, closed and removed after them.
import { after, before } from 'node:test';
import { closeSync } from 'node:fs';
import { mkdtemp, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFolderAt, posixConstants } from '../../src/client/posix/at';
import { removeTree } from './remove-tree';

export interface PosixWorkspace {
  /** The folder's real path (no symlink on the way, so paths compare as the addon reports them). */
  readonly path: string;
  /** A descriptor open on it. */
  readonly fd: number;
}

/** Registers the folder's set-up and removal for the calling test file; read its fields inside tests only. */
export function posixWorkspace(name: string): PosixWorkspace {
  const workspace = { path: '', fd: -1 };
  before(async () => {
    workspace.path = await realpath(await mkdtemp(join(tmpdir(), `cpsbackup-${name}-`)));
    workspace.fd = openFolderAt(posixConstants().AT_FDCWD, workspace.path);
  });
  after(() => {
    closeSync(workspace.fd);
    removeTree(workspace.path);
  });
  return workspace;
}
