// The parent index as the walk reads it while it streams in: a path is answered only once the index
// has reached it, damaged entries take a rank but are not the parent's file, an index out of order or
// one that fails midway is an error, and closing it stops the call and wakes whoever waits.
// The Parent call here is a scripted stream of batches, serialized as the server writes them, handed to the real ParentIndex.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, type BackupClient, type EntryMeta, type ParentBatch } from '../src/proto/cpsbackup';
import { NOT_YET, ParentIndex } from '../src/client/parent-index';
import { serializeParentBatch } from '../src/common/wire/parent-batch-codec';
import { meta } from './support/hostile-client';

/** A Parent call whose batches the test releases one at a time, or fails. */
class ScriptedCall {
  cancelled = false;
  private readonly queue: (ParentBatch | Error | 'end')[] = [];
  private waiting: (() => void) | undefined;

  push(item: ParentBatch | Error | 'end'): void {
    this.queue.push(item);
    this.waiting?.();
  }

  cancel(): void {
    this.cancelled = true;
    this.push(new Error('cancelled'));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ParentBatch> {
    for (;;) {
      while (this.queue.length === 0) await new Promise<void>((resolve) => { this.waiting = resolve; });
      const item = this.queue.shift()!;
      if (item === 'end') return;
      if (item instanceof Error) throw item;
      yield item;
    }
  }

  /** The batches go through the wire as the server writes them and the decoder the index asks for. */
  client(): BackupClient {
    const makeServerStreamRequest = (_method: string, _serialize: unknown, deserialize: (bytes: Buffer) => unknown): AsyncIterable<unknown> => {
      const batches = this[Symbol.asyncIterator]();
      return Object.assign({
        async *[Symbol.asyncIterator](): AsyncGenerator<unknown> {
          for await (const batch of { [Symbol.asyncIterator]: () => batches }) yield deserialize(serializeParentBatch(batch));
        },
      }, { cancel: () => this.cancel() });
    };
    return { makeServerStreamRequest } as unknown as BackupClient;
  }
}

const file = (path: string): EntryMeta => meta(path, EntryType.ENTRY_TYPE_FILE, { size: 1 });
const batch = (paths: string[], damaged: number[] = []): ParentBatch => (
  { backupId: 7, entries: paths.map(file), acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: false, damaged });
const toError = (error: unknown): unknown => new Error(`mapped: ${(error as Error).message}`);
const rankOf = (index: ParentIndex, path: string): number | undefined | typeof NOT_YET => {
  const found = index.lookup(Buffer.from(path));
  return found === NOT_YET ? NOT_YET : found?.rank;
};

test('a path is answered once the index has reached it; damaged entries take a rank but are not the parent\'s', async () => {
  const call = new ScriptedCall();
  call.push(batch(['/d/a', '/d/b'], [1]));
  const index = await ParentIndex.open(call.client(), toError);
  assert.equal(index.backupId, 7);
  assert.ok(index.acceptsCarriedRuns);
  assert.equal(rankOf(index, '/d/a'), 0);
  assert.equal(rankOf(index, '/d/b'), undefined, 'damaged: sent again');
  assert.equal(rankOf(index, '/d/a.txt'), undefined, 'before the last path reached: settled, absent');
  assert.equal(rankOf(index, '/d/c'), NOT_YET);
  const waiting = index.get(Buffer.from('/d/c'));
  call.push(batch(['/d/c', '/d/e']));
  assert.equal((await waiting)?.rank, 2, 'the damaged /d/b kept rank 1');
  assert.equal(rankOf(index, '/d/z'), NOT_YET, 'beyond the last path received: not yet');
  call.push('end');
  assert.equal(await index.get(Buffer.from('/d/z')), undefined, 'once complete, a path beyond is absent');
  index.close();
  assert.equal(call.cancelled, false, 'a complete index has no call left to cancel');
});

test('from a server that keeps inode flags, a file backed up without them takes its rank but is not the parent\'s: it is read again', async () => {
  const call = new ScriptedCall();
  const known = (path: string): EntryMeta => meta(path, EntryType.ENTRY_TYPE_FILE, { size: 1, inodeFlagsKnown: true });
  call.push({ backupId: 7, entries: [known('/d/a'), file('/d/b'), known('/d/c')], acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: true, damaged: [] });
  call.push({ backupId: 7, entries: [file('/d/e')], acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: false, damaged: [] });
  call.push('end');
  const index = await ParentIndex.open(call.client(), toError);
  assert.equal(rankOf(index, '/d/a'), 0);
  assert.equal(rankOf(index, '/d/b'), undefined, 'flags unknown: read again, so that they are stored');
  assert.equal(rankOf(index, '/d/c'), 2, 'the unknown /d/b kept rank 1: no carried run spans it');
  assert.equal((await index.get(Buffer.from('/d/e')))?.rank, 3, 'from a server that keeps no flags, reading again would store none');
  index.close();
});

test('an index out of path order is refused, in the first batch or a later one', async () => {
  const first = new ScriptedCall();
  first.push(batch(['/d/b', '/d/a']));
  await assert.rejects(ParentIndex.open(first.client(), toError), /out of path order/);
  assert.ok(first.cancelled, 'the call is cancelled');

  const later = new ScriptedCall();
  later.push(batch(['/d/a', '/d/c']));
  const index = await ParentIndex.open(later.client(), toError);
  later.push(batch(['/d/c']));
  await assert.rejects(index.get(Buffer.from('/d/x')), /out of path order/);
  assert.ok(later.cancelled);
});

test('a call that fails midway fails the lookups it has not answered yet, with the mapped error', async () => {
  const call = new ScriptedCall();
  call.push(batch(['/d/a']));
  const index = await ParentIndex.open(call.client(), toError);
  const waiting = index.get(Buffer.from('/d/b'));
  call.push(new Error('connection reset'));
  await assert.rejects(waiting, /mapped: connection reset/);
  assert.throws(() => index.lookup(Buffer.from('/d/a')), /mapped: connection reset/);
});

test('closing stops the call and wakes a waiting lookup, which then fails instead of waiting for ever', async () => {
  const call = new ScriptedCall();
  call.push(batch(['/d/a']));
  const index = await ParentIndex.open(call.client(), toError);
  const waiting = index.get(Buffer.from('/d/b'));
  index.close();
  assert.ok(call.cancelled);
  await assert.rejects(waiting, /after it was closed/);
  index.close();
});

test('an older server and a client without backups: no carried runs, an empty index', async () => {
  const older = new ScriptedCall();
  older.push({ ...batch(['/d/a']), acceptsCarriedRuns: false });
  older.push('end');
  const fromOlder = await ParentIndex.open(older.client(), toError);
  assert.equal(fromOlder.acceptsCarriedRuns, false);
  assert.equal(rankOf(fromOlder, '/d/a'), 0, 'its entries still answer the unchanged check');

  const noBatches = new ScriptedCall();
  noBatches.push({ backupId: 0, entries: [], acceptsBatches: true, acceptsCarriedRuns: true, keepsInodeFlags: true, damaged: [] });
  noBatches.push('end');
  const empty = await ParentIndex.open(noBatches.client(), toError);
  assert.equal(empty.backupId, 0);
  assert.equal(await empty.get(Buffer.from('/anything')), undefined);

  const nothing = new ScriptedCall();
  nothing.push('end');
  const none = await ParentIndex.open(nothing.client(), toError);
  assert.deepEqual([none.backupId, none.acceptsBatches, none.acceptsCarriedRuns], [0, false, false]);
  assert.equal(none.lookup(Buffer.from('/d/a')), undefined);
});

test('a parent file\'s ACLs and their names are kept, each distinct list once; other attributes are not', async () => {
  const call = new ScriptedCall();
  const acl = { name: Buffer.from('system.posix_acl_access'), value: Buffer.from([2, 0, 0, 0, 2, 0, 7, 0, 0xe8, 3, 0, 0]) };
  const names = { name: Buffer.from('cpsbackup.acl_names'), value: Buffer.from('{"users":{"1000":"alice"},"groups":{}}') };
  const other = { name: Buffer.from('cpsbackup.acl_names'), value: Buffer.from('{"users":{"1000":"alicia"},"groups":{}}') };
  const withXattrs = (path: string, xattrs: EntryMeta['xattrs']): EntryMeta => ({ ...file(path), xattrs });
  call.push({ ...batch([]), entries: [
    withXattrs('/a', [names, acl]), withXattrs('/b', [names, acl, { name: Buffer.from('user.note'), value: Buffer.from('x') }]),
    withXattrs('/c', [other, acl]), withXattrs('/d', [{ name: Buffer.from('user.note'), value: Buffer.from('x') }]), file('/e'),
  ] });
  call.push('end');
  const index = await ParentIndex.open(call.client(), toError);
  const found = await Promise.all(['/a', '/b', '/c', '/d', '/e'].map((path) => index.get(Buffer.from(path))));
  assert.deepEqual(found.map((entry) => entry?.aclXattrs), [[names, acl], [names, acl], [other, acl], undefined, undefined]);
  assert.equal(found[0]?.aclXattrs, found[1]?.aclXattrs, 'one list for the same ACLs and names');
  assert.notEqual(found[0]?.aclXattrs, found[2]?.aclXattrs);
  index.close();
});
