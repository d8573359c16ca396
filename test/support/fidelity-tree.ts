// Builds the tree of issue 12's "Done means": every kind of entry and metadata a faithful restore
// must give back. Root-only parts are skipped with a printed reason; the tools come from attr and acl.
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  chownAt,
  chmodAt,
  linkAt,
  mkdirAt,
  openAt,
  openFolderAt,
  posixConstants,
  readFolderAt,
  statAt,
  symlinkAt,
} from '../../src/client/posix/at';
import { OwnerNames } from '../../src/client/posix/owners';
import { makeDeviceAt, makeFifoAt } from '../../src/client/posix/special-files';
import { setTimesAt } from '../../src/client/posix/times';
import { setXattr } from '../../src/client/posix/xattrs';

export const GIB = 1024 * 1024 * 1024;

export interface FidelityTree {
  readonly root: string;
  /** Parts left out, each with its reason (already printed). */
  readonly skipped: readonly string[];
  readonly isRoot: boolean;
  /** Components of the folder chain below long/: together longer than 4096 bytes. */
  readonly longChain: readonly Buffer[];
  /** The five names that are not valid UTF-8, all in names/. */
  readonly invalidUtf8Names: readonly Buffer[];
  /** Relative path of the 2 GiB sparse file and where its data is. */
  readonly sparseFile: { readonly path: string; readonly size: number; readonly dataAt: readonly [number, number][] };
  readonly hardLinkGroup: { readonly folder: string; readonly count: number };
}

/** A uid and a gid with no name on this machine (checked): files owned by them must keep the numbers. */
export const NAMELESS_UID = 54321;
export const NAMELESS_GID = 54322;

const INVALID_UTF8_NAMES = [
  Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74]), // bad\xff\xfe.txt, the issue's own case
  Buffer.from([0x80]), // a lone continuation byte
  Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in latin-1
  Buffer.from([0xc3, 0x28]), // a two-byte sequence cut short
  Buffer.from([0xed, 0xa0, 0x80, 0x2e, 0x64, 0x61, 0x74]), // a UTF-16 surrogate encoded as UTF-8
];

const CONTROL_NAMES = ['new\nline', 'tab\there', 'esc\x1b[31mred', 'carriage\rreturn', 'del\x7f', 'bell\x07', 'back\\slash', 'looks\\xffescaped'];

export interface FidelityOptions {
  /** Leave out the chain longer than PATH_MAX (for a reference copier such as cp -a, which cannot reach it). */
  readonly withLongPath?: boolean;
}

export async function buildFidelityTree(root: string, options: FidelityOptions = {}): Promise<FidelityTree> {
  const skipped: string[] = [];
  const isRoot = process.geteuid?.() === 0;
  const skip = (part: string, reason: string): void => {
    skipped.push(`${part}: ${reason}`);
    console.log(`fidelity tree: skipping ${part}: ${reason}`);
  };
  await mkdir(root, { recursive: true });
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = posixConstants();
  const rootFd = openFolderAt(posixConstants().AT_FDCWD, root);
  const longChain: Buffer[] = [];
  const folder = (parentFd: number, name: Buffer | string, mode = 0o755): number => {
    mkdirAt(parentFd, name, mode);
    chmodAt(parentFd, name, mode); // umask-free
    return openFolderAt(parentFd, name);
  };
  const file = (parentFd: number, name: Buffer | string, content: Buffer | string, mode = 0o644): void => {
    const fd = openAt(parentFd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      const bytes = Buffer.from(content);
      if (bytes.length > 0) writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    chmodAt(parentFd, name, mode);
  };
  const run = (command: string, args: string[]): void => {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };

  try {
    // Plain content.
    const content = folder(rootFd, 'content');
    file(content, 'hello.txt', 'hello\n');
    file(content, 'empty', '');
    file(content, 'patterned.bin', Buffer.alloc(300_000, 'fidelity'));
    closeSync(content);

    // Extended attributes and ACLs, through the tools an operator uses.
    const xattrs = folder(rootFd, 'xattrs');
    file(xattrs, 'plain', 'has attributes\n');
    file(xattrs, Buffer.concat([Buffer.from('odd-name-'), INVALID_UTF8_NAMES[0]]), 'attributes on a byte name\n');
    setXattr({ dirfd: xattrs, name: Buffer.concat([Buffer.from('odd-name-'), INVALID_UTF8_NAMES[0]]) }, 'user.bytes', Buffer.from([0, 0xff, 10]));
    closeSync(xattrs);
    const plain = join(root, 'xattrs', 'plain');
    run('setfattr', ['-n', 'user.comment', '-v', 'hello', plain]);
    run('setfattr', ['-n', 'user.binary', '-v', '0x00ff0a', plain]);
    run('setfattr', ['-n', 'user.empty', plain]);
    if (isRoot) {
      run('setfattr', ['-n', 'trusted.cpsbackup', '-v', 'trusted value', plain]);
      run('setfattr', ['-n', 'security.cpsbackup', '-v', 'security value', plain]);
    } else {
      skip('trusted.* and security.* attributes', 'writing them needs root');
    }
    await mkdir(join(root, 'acls', 'default-acl-folder'), { recursive: true });
    await mkdir(join(root, 'acls', 'default-acl-folder', 'inheriting-folder'));
    execFileSync('sh', ['-c', 'printf acl > "$1"', 'sh', join(root, 'acls', 'access-acl')]);
    run('setfacl', ['-m', 'u:1234:r-x,g:2345:rw-,m::rwx', join(root, 'acls', 'access-acl')]);
    run('setfacl', ['-m', 'u:1234:rwx', join(root, 'acls', 'default-acl-folder')]);
    run('setfacl', ['-d', '-m', 'u:1234:r-x,g:2345:r--', join(root, 'acls', 'default-acl-folder')]);
    execFileSync('sh', ['-c', 'printf inherited > "$1"', 'sh', join(root, 'acls', 'default-acl-folder', 'inherited')]);

    // Devices.
    const devices = folder(rootFd, 'devices');
    if (isRoot) {
      makeDeviceAt(devices, 'char-240-7', 'char', { major: 240, minor: 7 }, 0o620);
      makeDeviceAt(devices, 'block-7-300', 'block', { major: 7, minor: 300 }, 0o660);
      makeDeviceAt(devices, 'char-big-minor', 'char', { major: 511, minor: 70_000 }, 0o600);
      run('mknod', ['-m', '0640', join(root, 'devices', 'mknod-char-1-3'), 'c', '1', '3']);
    } else {
      skip('character and block devices', 'mknod needs root');
    }
    closeSync(devices);

    // A 2 GiB sparse file with a few KiB of data in two places.
    const sparse = folder(rootFd, 'sparse');
    const dataAt: [number, number][] = [[1024 * 1024, 3000], [1536 * 1024 * 1024 + 123, 5000]];
    const sparseFd = openAt(sparse, 'two-gib', O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
    try {
      for (const [offset, length] of dataAt) writeSync(sparseFd, Buffer.alloc(length, `data at ${offset};`), 0, length, offset);
      ftruncateSync(sparseFd, 2 * GIB);
    } finally {
      closeSync(sparseFd);
    }
    closeSync(sparse);

    // A file with 100 names, and a second group across folders.
    const links = folder(rootFd, 'links');
    const group = folder(links, 'hundred');
    file(group, 'original', 'one inode, a hundred names\n');
    for (let index = 1; index < 100; index++) linkAt(group, 'original', group, `link-${String(index).padStart(3, '0')}`);
    closeSync(group);
    const across = folder(links, 'across');
    const deeper = folder(across, 'deeper');
    file(links, 'member-1', 'three names in three folders\n');
    linkAt(links, 'member-1', across, 'member-2');
    linkAt(links, 'member-1', deeper, 'member-3');
    closeSync(deeper);
    closeSync(across);
    // Walk order and path order disagree: "d/f" is walked first, "d.1/f" sorts first and is the name a
    // restore writes the content through; it must carry the inode's attributes all the same.
    const split = folder(links, 'split');
    const walkedFirst = folder(split, 'd');
    const sortedFirst = folder(split, 'd.1');
    file(walkedFirst, 'f', 'attributes on a linked inode\n');
    setXattr({ dirfd: walkedFirst, name: 'f' }, 'user.linked', Buffer.from('read through the other name'));
    linkAt(walkedFirst, 'f', sortedFirst, 'f');
    closeSync(sortedFirst);
    closeSync(walkedFirst);
    closeSync(split);
    closeSync(links);

    // Names as bytes.
    const names = folder(rootFd, 'names');
    for (const name of INVALID_UTF8_NAMES) file(names, name, Buffer.concat([Buffer.from('named '), name]));
    const badFolder = folder(names, Buffer.from([0x66, 0x6f, 0x6c, 0x64, 0x65, 0x72, 0xff]));
    file(badFolder, 'inside', 'a file in a folder whose name is not UTF-8\n');
    closeSync(badFolder);
    for (const name of CONTROL_NAMES) file(names, name, `named ${JSON.stringify(name)}\n`);
    file(names, 'n'.repeat(251) + '.txt', 'a 255-byte name\n');
    file(names, Buffer.concat([Buffer.from('é'.repeat(127)), Buffer.from('x')]), 'a 255-byte UTF-8 name\n');
    file(names, 'U+FFFD \uFFFD lookalike', 'valid UTF-8 with a replacement character\n');
    closeSync(names);

    // A path longer than 4096 bytes in total, reachable only one component at a time.
    let longFd = folder(rootFd, 'long');
    for (let depth = 0; options.withLongPath !== false && longChain.length * 201 < 4096 + 200; depth++) {
      const name = Buffer.from(`${String(depth).padStart(2, '0')}-${'d'.repeat(197)}`);
      longChain.push(name);
      const next = folder(longFd, name);
      closeSync(longFd);
      longFd = next;
    }
    file(longFd, 'deep-file', 'beyond PATH_MAX\n');
    symlinkAt('deep-file', longFd, 'deep-link');
    makeFifoAt(longFd, 'deep-fifo', 0o600);
    closeSync(longFd);

    // Modes.
    const modes = folder(rootFd, 'modes');
    file(modes, 'setuid', '#!/bin/sh\n', 0o4755);
    file(modes, 'setgid', '#!/bin/sh\n', 0o2755);
    file(modes, 'setuid-setgid', '#!/bin/sh\n', 0o6711);
    file(modes, 'private', 'secret\n', 0o600);
    closeSync(folder(modes, 'sticky-folder', 0o1777));
    closeSync(folder(modes, 'setgid-folder', 0o2775));
    closeSync(modes);
    const empty = folder(rootFd, 'empty');
    closeSync(folder(empty, 'mode-0700', 0o700));
    closeSync(folder(empty, 'mode-0555', 0o555));
    closeSync(folder(empty, 'mode-0500', 0o500));
    if (isRoot) {
      closeSync(folder(empty, 'mode-0311', 0o311));
      closeSync(folder(empty, 'mode-0000', 0o000));
    } else {
      skip('empty folders with modes 0311 and 0000', 'without read permission only root can list them to compare');
    }
    closeSync(empty);

    // Special files.
    const special = folder(rootFd, 'special');
    makeFifoAt(special, 'fifo', 0o640);
    closeSync(special);
    await bindUnixSocket(join(root, 'special', 'socket'), skip);

    // Symlinks.
    const symlinks = folder(rootFd, 'symlinks');
    symlinkAt('../xattrs/plain', symlinks, 'relative');
    symlinkAt('/etc/hostname', symlinks, 'absolute');
    symlinkAt('nowhere/at/all', symlinks, 'dangling');
    symlinkAt(Buffer.from([0x74, 0xff, 0xfe, 0x0a]), symlinks, 'byte-target');
    symlinkAt('../content', symlinks, 'to-folder');
    closeSync(symlinks);

    // Owners: a uid with a name and one without.
    const owners = folder(rootFd, 'owners');
    file(owners, 'named', 'owned by daemon\n');
    file(owners, 'nameless', 'owned by a uid with no name\n');
    symlinkAt('nameless', owners, 'nameless-link');
    if (isRoot) {
      const ownerNames = new OwnerNames();
      if (ownerNames.userName(NAMELESS_UID) !== undefined || ownerNames.groupName(NAMELESS_GID) !== undefined) {
        throw new Error(`uid ${NAMELESS_UID} or gid ${NAMELESS_GID} has a name here: pick ids that have none`);
      }
      chownAt(owners, 'named', 1, 1);
      chownAt(owners, 'nameless', NAMELESS_UID, NAMELESS_GID);
      chownAt(owners, 'nameless-link', NAMELESS_UID, NAMELESS_GID);
      chmodAt(owners, 'named', 0o4755); // chown cleared nothing yet: set after, like a restore must
    } else {
      skip('files owned by other users', 'chown needs root');
    }
    closeSync(owners);

    // Times with nanoseconds on everything, folders after their content.
    setTreeTimes(rootFd, { next: 0 });
  } finally {
    closeSync(rootFd);
  }
  return {
    root,
    skipped,
    isRoot,
    longChain,
    invalidUtf8Names: INVALID_UTF8_NAMES,
    sparseFile: { path: 'sparse/two-gib', size: 2 * GIB, dataAt: [[1024 * 1024, 3000], [1536 * 1024 * 1024 + 123, 5000]] },
    hardLinkGroup: { folder: 'links/hundred', count: 100 },
  };
}

/** A real bound socket leaves its inode behind when the server closes; a long path falls back to mknod. */
async function bindUnixSocket(path: string, skip: (part: string, reason: string) => void): Promise<void> {
  if (Buffer.byteLength(path) >= 108) {
    skip('a bound unix socket', `${path} is too long for sun_path; the tree has a FIFO and the restore tests make sockets with mknod`);
    return;
  }
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * Distinct times with nanoseconds (never a whole second), set depth first: 2021 onwards, and every
 * fifth entry before 1970, whose seconds are negative and nanoseconds not (struct timespec's floor).
 */
function setTreeTimes(folderFd: number, counter: { next: number }): void {
  for (const name of readFolderAt(folderFd).sort(Buffer.compare)) {
    const stats = statAt(folderFd, name);
    if ((stats.mode & posixConstants().S_IFMT) === posixConstants().S_IFDIR) {
      const childFd = openFolderAt(folderFd, name);
      try {
        setTreeTimes(childFd, counter);
      } finally {
        closeSync(childFd);
      }
    }
    counter.next += 1;
    const mtimeNs = counter.next % 5 === 0
      ? -1_500_000_000n - BigInt(counter.next) * 86_400_123_456_789n
      : 1_614_834_367_000_000_000n + BigInt(counter.next) * 3_600_123_456_789n + 1n;
    setTimesAt(folderFd, name, { atimeNs: mtimeNs + 5n, mtimeNs });
  }
}
