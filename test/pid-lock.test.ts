// The lock that keeps a second server off a store folder and a second receive off a client's dumps:
// exactly one holder at a time, also when many take over the file a dead owner left at once, and
// free the moment its holder dies, without anyone judging a PID stale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { acquirePidLock } from '../src/client/posix/pid-lock';
import { BusyError } from '../src/common/errors';

const describe = (pid: number): string => `held by process ${pid}`;

/** A PID no process has now: a child's that has exited and been reaped. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

/** A child process that takes the lock, says so, and holds it until killed. */
async function holderProcess(file: string): Promise<{ pid: number; kill(signal: NodeJS.Signals): Promise<void> }> {
  const script = `require(${JSON.stringify(join(__dirname, '..', 'src', 'client', 'posix', 'pid-lock.js'))})`
    + `.acquirePidLock(${JSON.stringify(file)}, String).then(() => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => { if (data.toString().includes('held')) resolve(); });
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return {
    pid: child.pid!,
    async kill(signal) {
      const exited = once(child, 'exit');
      child.kill(signal);
      await exited;
    },
  };
}

async function withFolder(run: (folder: string) => Promise<void>): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-pid-lock-'));
  try {
    await run(folder);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/**
 * Child processes that each try, round by round, to take `lock-<round>` as soon as `go-<round>`
 * appears, print "<round> held" or "<round> busy", and keep what they took until they are killed.
 */
function takerProcesses(folder: string, count: number, rounds: number): { results(round: number): Promise<string[]>; stop(): Promise<void> } {
  const script = `const lock = require(${JSON.stringify(join(__dirname, '..', 'src', 'client', 'posix', 'pid-lock.js'))});
    const { existsSync } = require('node:fs');
    const folder = ${JSON.stringify(folder)};
    const held = [];
    (async () => {
      for (let round = 0; round < ${rounds}; round++) {
        while (!existsSync(folder + '/go-' + round)) await new Promise((resolve) => setTimeout(resolve, 1));
        try {
          held.push(await lock.acquirePidLock(folder + '/lock-' + round, String));
          process.stdout.write(round + ' held\\n');
        } catch (error) {
          process.stdout.write(round + (error.code === 'BUSY' ? ' busy' : ' failed ' + error.message) + '\\n');
        }
      }
      setInterval(() => {}, 1000);
    })();`;
  const children = Array.from({ length: count }, () => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] }));
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  for (const child of children) {
    let rest = '';
    child.stdout.on('data', (data: Buffer) => {
      const parts = (rest + data.toString()).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
      for (const wake of waiting.splice(0)) wake();
    });
  }
  return {
    async results(round) {
      const ofRound = (): string[] => lines.filter((line) => line.startsWith(`${round} `)).map((line) => line.slice(`${round} `.length));
      while (ofRound().length < count) await new Promise<void>((resolve) => waiting.push(resolve));
      return ofRound();
    },
    async stop() {
      await Promise.all(children.map(async (child) => {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }));
    },
  };
}

test('many processes taking over a dead owner\'s lock file at once: exactly one holds it', async () => {
  await withFolder(async (folder) => {
    const rounds = 12;
    const takers = takerProcesses(folder, 6, rounds);
    try {
      for (let round = 0; round < rounds; round++) {
        await writeFile(join(folder, `lock-${round}`), `${deadPid()}\n`);
        await writeFile(join(folder, `go-${round}`), '');
        const results = await takers.results(round);
        assert.deepEqual(results.filter((result) => result !== 'held' && result !== 'busy'), [], `round ${round}`);
        assert.equal(results.filter((result) => result === 'held').length, 1, `round ${round}: ${results.join(', ')}`);
      }
    } finally {
      await takers.stop();
    }
  });
});

test('many takers in one process at once: exactly one holds it', async () => {
  await withFolder(async (folder) => {
    const file = join(folder, 'lock');
    await writeFile(file, `${deadPid()}\n`);
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquirePidLock(file, describe)));
    const held = results.filter((result) => result.status === 'fulfilled');
    assert.equal(held.length, 1);
    for (const result of results) {
      if (result.status === 'rejected') assert.ok(result.reason instanceof BusyError, String(result.reason));
    }
    await (held[0] as PromiseFulfilledResult<() => Promise<void>>).value();
  });
});

test('a live holder in another process is named; a SIGKILLed one frees the lock at once', async () => {
  await withFolder(async (folder) => {
    const file = join(folder, 'lock');
    const holder = await holderProcess(file);
    try {
      await assert.rejects(acquirePidLock(file, describe), (error: unknown) => error instanceof BusyError && error.message === `held by process ${holder.pid}`);
    } finally {
      await holder.kill('SIGKILL');
    }
    // The file stays behind with the dead holder's PID; the lock does not.
    assert.equal((await readFile(file, 'utf8')).trim(), String(holder.pid));
    const release = await acquirePidLock(file, describe);
    assert.equal((await readFile(file, 'utf8')).trim(), String(process.pid));
    await release();
  });
});

test('release removes the file and lets the next taker in; a second take in this process is refused', async () => {
  await withFolder(async (folder) => {
    const file = join(folder, 'lock');
    const release = await acquirePidLock(file, describe);
    await assert.rejects(acquirePidLock(file, describe), (error: unknown) => error instanceof BusyError && error.message === `held by process ${process.pid}`);
    await release();
    assert.equal(existsSync(file), false);
    const again = await acquirePidLock(file, describe);
    // A second release (a store closed twice) does nothing: it must not close another file's descriptor.
    await release();
    await assert.rejects(acquirePidLock(file, describe), BusyError);
    await again();
    await again();
  });
});

test('a lock file whose PID now belongs to a live unrelated process is taken: only the kernel lock counts', async () => {
  await withFolder(async (folder) => {
    const file = join(folder, 'lock');
    // PID 1 is always alive; the old rule (a live PID holds it) would have refused forever.
    await writeFile(file, '1\n');
    const release = await acquirePidLock(file, describe);
    await release();
  });
});

test('a holder whose lock file was removed from outside leaves the next holder\'s file alone when it lets go', async () => {
  await withFolder(async (folder) => {
    const file = join(folder, 'lock');
    const first = await acquirePidLock(file, describe);
    await rm(file);
    const second = await acquirePidLock(file, describe);
    await first();
    assert.equal(existsSync(file), true, 'the second holder\'s lock file is still there');
    await assert.rejects(acquirePidLock(file, describe), BusyError);
    await second();
  });
});
