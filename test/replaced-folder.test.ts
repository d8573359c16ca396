// A folder given to another folder between the walk's lstat and its open (a rename over it, a swap):
// the folder recorded must be the one whose content was listed, its owner, mode and xattrs with it,
// not the first folder's attributes over the second one's files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../src/client/walker';
import { isXattrUnsupported, setXattr } from '../src/client/posix/xattrs';

const atModule = join(__dirname, '..', 'src', 'client', 'posix', 'at.js');

// The swap must run while the walk does: on one CPU it rarely falls between a folder's lstat and its open.
const oneCpu = availableParallelism() < 2 ? 'one CPU: the swapping process cannot run beside the walk' : false;

test('a folder swapped with another while it is walked is recorded with the attributes of the folder listed', { timeout: 30_000, skip: oneCpu }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'cpsbackup-replaced-folder-'));
  // Each folder's mode is written in the name of the one file it holds, and in a user xattr of its own.
  let hasXattrs = true;
  for (const [name, mode] of [['a', 0o700], ['b', 0o750]] as const) {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, `mode-${mode.toString(8)}`), '');
    try {
      setXattr({ path: join(root, name) }, 'user.mode', Buffer.from(mode.toString(8)));
    } catch (error) {
      if (!isXattrUnsupported(error)) throw error;
      hasXattrs = false;
    }
    chmodSync(join(root, name), mode);
  }
  if (!hasXattrs) t.diagnostic(`${tmpdir()} takes no user xattrs: only modes are compared`);
  // Another process exchanges the two names (renameat2 RENAME_EXCHANGE) as fast as it can.
  const swapper = spawn(process.execPath, ['-e', `
const { renameAt, posixConstants } = require(${JSON.stringify(atModule)});
const { AT_FDCWD, RENAME_EXCHANGE } = posixConstants();
require('node:fs').writeSync(1, 'swapping\\n'); // synchronous: the loop below never lets the event loop run
for (;;) renameAt(AT_FDCWD, ${JSON.stringify(join(root, 'a'))}, AT_FDCWD, ${JSON.stringify(join(root, 'b'))}, RENAME_EXCHANGE);
`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => swapper.once('exit', () => resolve()));
  // The swapper stops before the folders go: removing them under it fails.
  t.after(async () => {
    swapper.kill('SIGKILL');
    await exited;
    rmSync(root, { recursive: true, force: true });
  });
  await new Promise<void>((resolve, reject) => {
    swapper.stdout.once('data', () => resolve());
    swapper.once('exit', (code) => reject(new Error(`the swapper exited (${code})`)));
  });

  let walks = 0;
  let replaced = 0;
  const deadline = Date.now() + 3000;
  // Until enough swaps fell between a folder's lstat and its open to have been seen, or three seconds.
  while (Date.now() < deadline && replaced < 20) {
    walks++;
    const warnings: string[] = [];
    const entries: { path: string; mode: number; xattr: string | undefined }[] = [];
    // Each entry's xattrs are read while the walk is at it, as the backup reads them.
    for (const entry of walk({
      includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
      onWarning: (message) => warnings.push(message), onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
    })) {
      const xattr = hasXattrs ? entry.readAttributes().xattrs.find((item) => item.name.toString() === 'user.mode')?.value.toString() : undefined;
      entries.push({ path: entry.meta.path.toString(), mode: entry.meta.mode & 0o7777, xattr });
    }
    for (const name of ['a', 'b']) {
      const folder = entries.find((entry) => entry.path === join(root, name));
      const listed = entries.find((entry) => entry.path.startsWith(`${join(root, name)}/mode-`));
      assert.ok(folder !== undefined && listed !== undefined, `walk ${walks}: ${name} and its file were walked`);
      assert.equal(`mode-${folder.mode.toString(8)}`, listed.path.slice(join(root, name).length + 1),
        `walk ${walks}: ${name} is recorded with the mode of the folder whose file was listed`);
      if (hasXattrs) assert.equal(folder.xattr, folder.mode.toString(8), `walk ${walks}: ${name}'s xattrs are those of the folder whose mode is recorded`);
    }
    replaced += warnings.filter((message) => message.includes('replaced by another folder during the backup')).length;
  }
  t.diagnostic(`${walks} walks, ${replaced} folders replaced between their lstat and their open`);
  // Without a swap caught the test proved nothing: say so rather than pass.
  assert.ok(replaced > 0, `no swap fell between a folder's lstat and its open in ${walks} walks`);
});
