// Helpers the fault, check and hostile suites share: backups and restores through the real CLI,
// the store's catalog read directly (server stopped) to aim damage, and the check command's verdict.
import assert from 'node:assert/strict';
import { open, readdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Sandbox, type CommandResult, type SandboxServer } from './sandbox';
import { snapshotTree, treeDifferences, type TreeEntry } from './trees';

export interface ChunkPlace {
  readonly hash: string;
  readonly packName: string;
  readonly offset: number;
  readonly storedSize: number;
}

/** A backup the suite knows the exact content of, to restore and compare later. */
export interface KnownBackup {
  readonly number: number;
  readonly root: string;
  readonly snapshot: Map<string, TreeEntry>;
  /** Marked incomplete (unreadable files, check --repair): its restore warns and exits 3. */
  readonly isIncomplete?: boolean;
}

export async function backupNow(sandbox: Sandbox, configFile: string, root: string): Promise<KnownBackup> {
  const snapshot = await snapshotTree(root);
  const result = await sandbox.runClient(['-c', configFile, '-e']);
  assert.equal(result.code, 0, `backup failed: ${result.stdout}${result.stderr}`);
  const match = /Backup (\d+) done/.exec(result.stdout);
  assert.ok(match, result.stdout);
  return { number: Number(match[1]), root, snapshot };
}

/** A sandbox whose node1 has made one backup of `data`, as most fault tests begin. */
export interface FirstBackup {
  readonly sandbox: Sandbox;
  /** <sandbox>/data, node1's include. */
  readonly data: string;
  /** node1's config lines: to write it again after a restart (a new port). */
  readonly nodeLines: readonly string[];
  readonly configFile: string;
  readonly server: SandboxServer;
  readonly first: KnownBackup;
}

/**
 * Creates a sandbox (server.conf with `serverLines`), fills `data` with `writeData`, starts the server,
 * writes node1's config (`include = data` and `nodeLines`) and backs up once; the server is then stopped
 * unless `isServerKept` (check, and damage aimed through the catalog, need it stopped). The caller destroys
 * the sandbox; when the set-up itself fails, it is destroyed here.
 */
export async function setUpFirstBackup(options: {
  readonly serverLines?: readonly string[];
  readonly nodeLines?: readonly string[];
  readonly writeData: (data: string) => Promise<void>;
  readonly isServerKept?: boolean;
}): Promise<FirstBackup> {
  const sandbox = await Sandbox.create({ serverLines: options.serverLines });
  try {
    const data = join(sandbox.root, 'data');
    await options.writeData(data);
    const server = await sandbox.startServer();
    const nodeLines = [`include = ${data}`, ...(options.nodeLines ?? [])];
    const configFile = await sandbox.writeNodeConfig('node1', nodeLines);
    const first = await backupNow(sandbox, configFile, data);
    if (options.isServerKept !== true) await server.stop();
    return { sandbox, data, nodeLines, configFile, server, first };
  } catch (error) {
    await sandbox.destroy();
    throw error;
  }
}

export async function listedNumbers(sandbox: Sandbox, configFile: string, extra: readonly string[] = []): Promise<number[]> {
  const result = await sandbox.runClient(['-c', configFile, '-l', '--json', ...extra]);
  assert.equal(result.code, 0, `list failed: ${result.stderr}`);
  return (JSON.parse(result.stdout) as { id: number }[]).map((backup) => backup.id);
}

/** Restores into a fresh folder and returns the differences from what was backed up (empty: byte for byte). */
export async function restoreDifferences(sandbox: Sandbox, configFile: string, backup: KnownBackup): Promise<string[]> {
  const target = await mkdtemp(join(sandbox.root, 'restore-'));
  try {
    const result = await sandbox.runClient(['-c', configFile, '-i', String(backup.number), '--to', target]);
    const expectedCode = backup.isIncomplete === true ? 3 : 0;
    if (result.code !== expectedCode) return [`restore of backup ${backup.number} exited ${result.code}, not ${expectedCode}: ${result.stderr}`];
    if (backup.isIncomplete === true && !/^warning: backup \d+ is incomplete: /m.test(result.stderr)) {
      return [`restore of incomplete backup ${backup.number} did not warn: ${result.stderr}`];
    }
    return treeDifferences(backup.snapshot, await snapshotTree(join(target, backup.root)));
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

export async function assertRestoresExactly(sandbox: Sandbox, configFile: string, backups: readonly KnownBackup[]): Promise<void> {
  for (const backup of backups) {
    assert.deepEqual(await restoreDifferences(sandbox, configFile, backup), [], `backup ${backup.number} does not restore byte for byte`);
  }
}

/** Runs `cpsbackup-server check`; the server must be stopped (the check takes the store's process lock). */
export function runCheck(sandbox: Sandbox, args: readonly string[] = ['--read-data']): Promise<CommandResult> {
  return sandbox.runServerCommand(['check', ...args]);
}

export async function assertCheckClean(sandbox: Sandbox): Promise<void> {
  const result = await runCheck(sandbox);
  assert.equal(result.code, 0, `check --read-data found damage:\n${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /no errors found/);
}

/** Opens the store's catalog read-only; only while no server runs on it. */
export function withCatalog<T>(sandbox: Sandbox, use: (database: Database.Database) => T): T {
  const database = new Database(join(sandbox.storeDirectory, 'catalog.db'), { readonly: true, fileMustExist: true });
  try {
    return use(database);
  } finally {
    database.close();
  }
}

/** The chunks of the file at path in the given backup, in order. */
export function chunksOfFile(sandbox: Sandbox, backupNumber: number, path: string): ChunkPlace[] {
  return withCatalog(sandbox, (database) => database.prepare(
    `SELECT lower(hex(ch.hash)) AS hash, p.name AS packName, ch.offset, ch.stored_size AS storedSize
     FROM entries e JOIN backups b ON b.id = e.backup_id JOIN content_chunks cc ON cc.content_id = e.content_id
     JOIN chunks ch ON ch.id = cc.chunk_id JOIN packs p ON p.id = ch.pack_id
     WHERE b.number = ? AND e.path = ? ORDER BY cc.seq`).all(backupNumber, Buffer.from(path)) as ChunkPlace[]);
}

export function packFile(sandbox: Sandbox, packName: string): string {
  return join(sandbox.storeDirectory, 'packs', packName.slice(0, 2), `${packName}.pack`);
}

export async function packFiles(sandbox: Sandbox): Promise<string[]> {
  const root = join(sandbox.storeDirectory, 'packs');
  const files: string[] = [];
  for (const folder of await readdir(root)) {
    for (const name of await readdir(join(root, folder))) if (name.endsWith('.pack')) files.push(join(root, folder, name));
  }
  return files.sort();
}

/** Sealed pack files and their sizes, by path: two of these taken apart tell which packs GC deleted in between. */
export async function packSizes(sandbox: Sandbox): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const file of await packFiles(sandbox).catch(() => [] as string[])) {
    const size = await stat(file).then((info) => info.size, () => undefined);
    if (size !== undefined) sizes.set(file, size);
  }
  return sizes;
}

/** Bytes of pack data the server has written so far: sealed packs and packs still being staged. */
export async function writtenPackBytes(sandbox: Sandbox): Promise<number> {
  let total = 0;
  const staging = join(sandbox.storeDirectory, 'staging');
  const staged = (await readdir(staging).catch(() => [] as string[])).map((name) => join(staging, name));
  for (const file of [...await packFiles(sandbox).catch(() => [] as string[]), ...staged]) total += await stat(file).then((info) => info.size, () => 0);
  return total;
}

export async function flipByte(file: string, offset: number): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    const buffer = Buffer.alloc(1);
    await handle.read(buffer, 0, 1, offset);
    buffer[0] ^= 0xff;
    await handle.write(buffer, 0, 1, offset);
  } finally {
    await handle.close();
  }
}

/** Polls until predicate holds (a state to reach, never a duration to assert); fails after limitMs. */
export async function waitUntil(predicate: () => Promise<boolean> | boolean, what: string, limitMs = 60_000, context?: () => string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${context === undefined ? '' : `\n${context()}`}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Log lines that end a garbage collection: its figures (`gc: N chunks, …`) or its failure. */
const COLLECTION_END = /\bgc: \d+ chunks|\bgc (?:after .*?)?failed/g;

/**
 * How many collections the server has logged as ended. A deletion's reply does not wait for the GC it
 * makes due (issue 18): a test that needs what GC frees waits for this count to grow past its value
 * from before the deletion (or for the log line it expects).
 */
export function collectionsEnded(server: SandboxServer): number {
  return (server.log().match(COLLECTION_END) ?? []).length;
}

/** Waits until the log holds a line matching pattern (a GC's outcome after a deletion, which its reply does not wait for). */
export async function waitForLog(server: SandboxServer, pattern: RegExp, what: string): Promise<void> {
  await waitUntil(() => pattern.test(server.log()), what, 60_000, () => server.log().split('\n').slice(-20).join('\n'));
}

/** Sends the server SIGHUP and waits until its log holds one more line matching pattern than before. */
export async function sighupAndWaitFor(server: SandboxServer, pattern: RegExp): Promise<void> {
  const count = (): number => (server.log().match(new RegExp(pattern.source, 'g')) ?? []).length;
  const before = count();
  server.process.kill('SIGHUP');
  await waitUntil(() => count() > before, `the server to log ${pattern.source}`);
}

/** Sends SIGHUP and waits for the server's verdict on rereading its client records (it logs one either way). */
export async function reloadClients(server: SandboxServer): Promise<void> {
  const verdicts = (): number => (server.log().match(/clients (reloaded from|not reloaded)/g) ?? []).length;
  const before = verdicts();
  server.process.kill('SIGHUP');
  await waitUntil(() => verdicts() > before, 'the reload\'s log line');
}

export async function temporaryFolder(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
