// One server writes to a bucket at a time (src/chunkstore/lease): a second store folder is refused
// while the first renews its lease, takes the bucket over once that lease went stale, and the
// server whose lease was taken over stops writing. Run on the local backend, whose blobs' times can
// be set back; e2e-s3-store runs the same refusal against a real Ceph bucket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, utimes } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalBackend } from '../src/chunkstore/backend/local-backend';
import { BucketLease, LEASE_STALE_MS } from '../src/chunkstore/lease/bucket-lease';
import { leaseName, writeLease } from '../src/chunkstore/lease/lease-blobs';
import { leaseOwnerOf } from '../src/chunkstore/lease/lease-owner';
import { ObjectExistsError } from '../src/chunkstore/backend/pack-backend';
import { StoreKey } from '../src/chunkstore/crypto/store-key';
import { BusyError } from '../src/common/errors';
import type { Logger } from '../src/common/logger';

interface Bucket {
  readonly backend: LocalBackend;
  /** A store folder of its own (owner id, staging), as each server has. */
  folder(name: string): Promise<{ directory: string; stagingDirectory: string }>;
  leaseBlobs(): Promise<string[]>;
  blobFile(name: string): string;
  /** Sets a blob's modification time back, as if its owner had stopped renewing that long ago. */
  age(blob: string, ms: number): Promise<void>;
  dispose(): Promise<void>;
}

async function makeBucket(): Promise<Bucket> {
  const root = await mkdtemp(join(tmpdir(), 'cpsbackup-lease-'));
  const backend = new LocalBackend(join(root, 'bucket'));
  return {
    backend,
    folder: async (name) => {
      const directory = join(root, name);
      await mkdir(join(directory, 'staging'), { recursive: true });
      return { directory, stagingDirectory: join(directory, 'staging') };
    },
    blobFile: (name) => join(root, 'bucket', 'blobs', name),
    leaseBlobs: async () => (await readdir(join(root, 'bucket', 'blobs')).catch(() => [] as string[])).filter((name) => name.startsWith('lease-')).sort(),
    age: async (blob, ms) => {
      const then = new Date(Date.now() - ms);
      await utimes(join(root, 'bucket', 'blobs', blob), then, then);
    },
    dispose: async () => {
      await backend.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (line) => lines.push(`info ${line}`), warn: (line) => lines.push(`warn ${line}`), error: (line) => lines.push(`error ${line}`) };
}

test('a second server is refused while the first holds the lease, named by host, pid and folder; it may open once the first released it', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const drill = await bucket.folder('drill');
    const first = await BucketLease.take({ backend: bucket.backend, ...live });
    const held = await bucket.leaseBlobs();
    assert.equal(held.length, 1);
    await assert.rejects(BucketLease.take({ backend: bucket.backend, ...drill }), (error: unknown) => {
      assert.ok(error instanceof BusyError, String(error));
      assert.match(error.message, /is in use by another cpsbackup server/);
      assert.ok(error.message.includes(`host ${hostname()}, pid ${process.pid}, store folder ${live.directory}`), error.message);
      assert.ok(error.message.includes(held[0]), 'the blob to delete by hand is named');
      return true;
    });
    assert.deepEqual(await bucket.leaseBlobs(), held, 'the refused server left no lease, and the live one is untouched');
    first.assertHeld();

    await first.release();
    assert.deepEqual(await bucket.leaseBlobs(), []);
    const second = await BucketLease.take({ backend: bucket.backend, ...drill });
    await second.release();
  } finally {
    await bucket.dispose();
  }
});

test('a renewal replaces the lease blob; a folder whose process died takes its own lease back at once', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const crashed = await BucketLease.take({ backend: bucket.backend, ...live });
    const [firstBlob] = await bucket.leaseBlobs();
    await crashed.renew();
    const [renewed] = await bucket.leaseBlobs();
    assert.notEqual(renewed, firstBlob);
    assert.equal((await bucket.leaseBlobs()).length, 1, 'the renewal deleted the blob before it');

    // The same folder opened again without a release (the process was killed): its lease is its own, not another server's.
    const restarted = await BucketLease.take({ backend: bucket.backend, ...live });
    const after = await bucket.leaseBlobs();
    assert.equal(after.length, 1);
    assert.notEqual(after[0], renewed);
    await restarted.release();
    await crashed.release();
  } finally {
    await bucket.dispose();
  }
});

test('a lease not renewed for the stale period is taken over with a warning; its server then stops writing and removes its lease', async () => {
  const bucket = await makeBucket();
  try {
    const gone = await bucket.folder('gone');
    const next = await bucket.folder('next');
    const cutOff = await BucketLease.take({ backend: bucket.backend, ...gone });
    const [goneBlob] = await bucket.leaseBlobs();

    // Just inside the stale period: still refused.
    await bucket.age(goneBlob, LEASE_STALE_MS - 60_000);
    await assert.rejects(BucketLease.take({ backend: bucket.backend, ...next }), BusyError);

    await bucket.age(goneBlob, LEASE_STALE_MS + 60_000);
    const logger = recordingLogger();
    const taker = await BucketLease.take({ backend: bucket.backend, ...next, logger });
    assert.ok(logger.lines.some((line) => /^warn removed a stale lease on .*, not renewed for 31 minutes: host .*store folder .*gone/.test(line)), logger.lines.join('\n'));
    const takerBlobs = await bucket.leaseBlobs();
    assert.equal(takerBlobs.length, 1);
    assert.ok(!takerBlobs.includes(goneBlob), 'the stale lease was removed');

    // The cut-off server comes back: its renewal finds the bucket taken and it stops.
    const cutOffAgain = await BucketLease.take({ backend: bucket.backend, ...gone }).catch((error: unknown) => error);
    assert.ok(cutOffAgain instanceof BusyError, 'a restart of the cut-off folder is refused too');
    cutOff.assertHeld();
    await cutOff.renew();
    assert.throws(() => cutOff.assertHeld(), (error: unknown) => error instanceof BusyError
      && /lease on .* was removed \(found stale by another server, or by break-lease\): .* is in use by another cpsbackup server .*store folder .*next/.test(error.message));
    assert.deepEqual(await bucket.leaseBlobs(), takerBlobs, 'the cut-off server removed its lease, the new holder\'s is kept');
    assert.equal(cutOff.status.isHeld, false, 'the status port says so');
    assert.match(cutOff.status.problem ?? '', /was removed/);
    assert.equal(taker.status.isHeld, true);
    await cutOff.renew();
    assert.deepEqual(await bucket.leaseBlobs(), takerBlobs, 'and renews no more');

    await taker.renew();
    taker.assertHeld();
    await taker.release();
    await cutOff.release();
  } finally {
    await bucket.dispose();
  }
});

test('breakOthers removes the other folders\' leases, naming each, and keeps the caller\'s own', async () => {
  const bucket = await makeBucket();
  try {
    const lost = await bucket.folder('lost');
    const here = await bucket.folder('here');
    const lostLease = await BucketLease.take({ backend: bucket.backend, ...lost });
    assert.deepEqual(await BucketLease.breakOthers({ backend: bucket.backend, ...lost }), [], 'a folder never breaks its own lease');
    const removed = await BucketLease.breakOthers({ backend: bucket.backend, ...here });
    assert.equal(removed.length, 1);
    assert.match(removed[0], new RegExp(`^host .*, pid ${process.pid}, store folder ${lost.directory}, running since .*, renewed 0\\.\\d minutes ago$`));
    assert.deepEqual(await bucket.leaseBlobs(), []);
    const taken = await BucketLease.take({ backend: bucket.backend, ...here });
    await lostLease.renew();
    assert.throws(() => lostLease.assertHeld(), BusyError, 'a server whose lease was broken while it ran stops writing');
    await taken.release();
    await lostLease.release();
  } finally {
    await bucket.dispose();
  }
});

test('the holder keeps the bucket when another folder\'s lease merely appears (a server refused at its start writes one before it looks)', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const logger = recordingLogger();
    const holder = await BucketLease.take({ backend: bucket.backend, ...live, logger });
    const newcomer = { ownerId: 'ab'.repeat(16), host: 'spare', pid: 4242, directory: '/srv/drill', startedAt: new Date().toISOString() };
    const transient = await writeLease(bucket.backend, live.stagingDirectory, newcomer, 1, undefined);
    await holder.renew();
    holder.assertHeld();
    assert.ok(logger.lines.some((line) => /^warn another store folder's lease is in .*: host spare, pid 4242, store folder \/srv\/drill.*this server keeps the bucket/.test(line)),
      logger.lines.join('\n'));
    assert.ok((await bucket.leaseBlobs()).includes(transient), 'the holder never deletes a live lease of another folder');
    await bucket.backend.deleteBlob(transient);
    await holder.release();
    assert.deepEqual(await bucket.leaseBlobs(), []);
  } finally {
    await bucket.dispose();
  }
});

test('a renewal whose put landed but failed is not retried under the same name; the next one cleans up', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const holder = await BucketLease.take({ backend: bucket.backend, ...live });
    const [first] = await bucket.leaseBlobs();
    const ownerId = await leaseOwnerOf(live.directory);
    // Lease 2 is in the bucket already, as when the answer to its PUT was lost: the renewal meets it.
    await writeLease(bucket.backend, live.stagingDirectory, { ownerId, host: 'h', pid: 1, directory: live.directory, startedAt: '' }, 2, undefined);
    await assert.rejects(holder.renew(), ObjectExistsError);
    await holder.renew();
    assert.deepEqual(await bucket.leaseBlobs(), [leaseName(ownerId, 3)], `${first} and lease 2 were removed once lease 3 was seen`);
    holder.assertHeld();
    await holder.release();
  } finally {
    await bucket.dispose();
  }
});

test('nothing may be written once the lease went unrenewed for half the stale period; a renewal that goes through clears it', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const holder = await BucketLease.take({ backend: bucket.backend, ...live, staleMs: 400, renewMs: 3_600_000 });
    holder.assertHeld();
    await sleep(250);
    assert.throws(() => holder.assertHeld(), (error: unknown) => error instanceof BusyError && /has not been renewed for .* minutes \(is the bucket reachable\?\)/.test(error.message));
    await holder.renew();
    holder.assertHeld();
    await holder.release();
  } finally {
    await bucket.dispose();
  }
});

test('a copied store folder is another owner: it never takes the original\'s lease for its own', async () => {
  const bucket = await makeBucket();
  try {
    const original = await bucket.folder('original');
    const copy = await bucket.folder('copy');
    const holder = await BucketLease.take({ backend: bucket.backend, ...original });
    await copyFile(join(original.directory, 'lease-owner'), join(copy.directory, 'lease-owner'));
    assert.notEqual(await leaseOwnerOf(copy.directory), await leaseOwnerOf(original.directory));
    await assert.rejects(BucketLease.take({ backend: bucket.backend, ...copy }), BusyError);
    holder.assertHeld();
    await holder.renew();
    holder.assertHeld();
    await holder.release();
  } finally {
    await bucket.dispose();
  }
});

test('in an encrypted store the lease record is sealed: the bucket shows no host or folder, the refusal still names them', async () => {
  const bucket = await makeBucket();
  try {
    const seal = { key: new StoreKey(randomBytes(32), 'key file test.key'), storeId: 'cd'.repeat(16) };
    const live = await bucket.folder('live-folder-name');
    const drill = await bucket.folder('drill');
    const holder = await BucketLease.take({ backend: bucket.backend, ...live, seal });
    const [blob] = await bucket.leaseBlobs();
    const stored = await readFile(bucket.blobFile(blob));
    // The host name quoted, as a plain record holds it: a short one unquoted ("vm") turns up in random sealed bytes now and then.
    assert.ok(!stored.includes('live-folder-name') && !stored.includes(JSON.stringify(hostname())), 'no folder or host name in the bucket');
    await assert.rejects(BucketLease.take({ backend: bucket.backend, ...drill, seal }), (error: unknown) =>
      error instanceof BusyError && error.message.includes(`host ${hostname()}, pid ${process.pid}, store folder ${live.directory}`));
    assert.deepEqual(await BucketLease.liveHolders({ backend: bucket.backend, stagingDirectory: drill.stagingDirectory, seal }).then((holders) => holders.length), 1);
    await holder.release();
  } finally {
    await bucket.dispose();
  }
});

test('LeaseGuardedBackend: every put and delete asks the lease first; reads and listings do not', async () => {
  const bucket = await makeBucket();
  try {
    const { LeaseGuardedBackend } = await import('../src/chunkstore/lease/lease-guarded-backend');
    const folder = await bucket.folder('store');
    let isHeld = true;
    const guarded = new LeaseGuardedBackend(bucket.backend, () => {
      if (!isHeld) throw new BusyError('lease lost');
    });
    const staged = join(folder.stagingDirectory, 'staged');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(staged, 'pack bytes');
    await guarded.putPack('aa11', staged);
    await writeFile(staged, 'blob bytes');
    await guarded.putBlob('note', staged);
    isHeld = false;
    assert.deepEqual(await guarded.readRange('aa11', 0, 4), Buffer.from('pack'));
    await writeFile(staged, 'more');
    for (const write of [() => guarded.putPack('bb22', staged), () => guarded.deletePack('aa11'), () => guarded.putBlob('other', staged), () => guarded.deleteBlob('note')]) {
      await assert.rejects(write(), /lease lost/);
    }
    const packs: string[] = [];
    for await (const pack of guarded.listPacks()) packs.push(pack.name);
    assert.deepEqual(packs, ['aa11'], 'nothing was written or deleted');
  } finally {
    await bucket.dispose();
  }
});

test('a holder unrenewed for the stale period gives up when another lease is there, and keeps the bucket when none is', async () => {
  const bucket = await makeBucket();
  try {
    const live = await bucket.folder('live');
    const alone = await BucketLease.take({ backend: bucket.backend, ...live });
    const [first] = await bucket.leaseBlobs();
    // A bucket outage longer than the stale period, and nobody else: the server goes on once it is back.
    await bucket.age(first, LEASE_STALE_MS + 60_000);
    await alone.renew();
    alone.assertHeld();

    const [renewed] = await bucket.leaseBlobs();
    await bucket.age(renewed, LEASE_STALE_MS + 60_000);
    // A newcomer found it stale and is removing its leases: it writes its own lease first.
    const newcomer = { ownerId: 'ef'.repeat(16), host: 'spare', pid: 7, directory: '/srv/new', startedAt: new Date().toISOString() };
    const newcomerLease = await writeLease(bucket.backend, live.stagingDirectory, newcomer, 1, undefined);
    await alone.renew();
    assert.throws(() => alone.assertHeld(), (error: unknown) => error instanceof BusyError && /went unrenewed for the stale period/.test(error.message));
    assert.deepEqual(await bucket.leaseBlobs(), [newcomerLease], 'it removed its leases, the newcomer\'s is kept');
    await alone.release();
  } finally {
    await bucket.dispose();
  }
});

test('a holder renewing while a newcomer removes its stale lease: exactly one of them goes on', async () => {
  const bucket = await makeBucket();
  try {
    const holderFolder = await bucket.folder('holder');
    const newcomerFolder = await bucket.folder('newcomer');
    const holder = await BucketLease.take({ backend: bucket.backend, ...holderFolder, renewMs: 3_600_000 });
    const [stale] = await bucket.leaseBlobs();
    await bucket.age(stale, LEASE_STALE_MS + 60_000);
    // The holder renews while the newcomer deletes the stale lease it listed.
    const deleteBlob = bucket.backend.deleteBlob.bind(bucket.backend);
    bucket.backend.deleteBlob = async (name: string) => {
      if (name === stale) {
        bucket.backend.deleteBlob = deleteBlob;
        await holder.renew();
      }
      return deleteBlob(name);
    };
    const newcomer = await BucketLease.take({ backend: bucket.backend, ...newcomerFolder });
    bucket.backend.deleteBlob = deleteBlob;
    // The holder saw the newcomer's lease beside its own stale one and gave up; it had not, the newcomer's second look would have refused.
    assert.throws(() => holder.assertHeld(), BusyError);
    newcomer.assertHeld();
    assert.equal((await bucket.leaseBlobs()).length, 1);
    await newcomer.release();
    await holder.release();
  } finally {
    await bucket.dispose();
  }
});
