// Proves encryption at rest end to end on a real Ceph RADOS Gateway: packs of sealed records and a
// sealed catalog snapshot go to the bucket; grep over every object in the bucket finds no file name,
// no content and no chunk hash, while each record still reads alone by Range GET and the wrong key is
// refused with a clear error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { loadS3Credentials } from '../src/chunkstore/backend/s3/credentials';
import { S3Backend } from '../src/chunkstore/backend/s3/s3-backend';
import { createKeyFile } from '../src/chunkstore/crypto/key-file';
import { RecordSealer } from '../src/chunkstore/crypto/record-seal';
import { openSealedFile, sealFile } from '../src/chunkstore/crypto/sealed-file';
import { StoreKey, WrongKeyError } from '../src/chunkstore/crypto/store-key';
import { cephSkipReason, startCeph, type CephCluster } from './support/ceph';
import { newName, stagingFolderFor } from './support/pack-backend-suite';
import { grepExitCode } from './support/grep';

const skip = cephSkipReason();
const bucket = 'cpsbackup-sealed';
const canary = 'CANARY-payroll-2026-confidential';

/** A record as the store would write one: a chunk's hash and its (compressible) bytes naming the canary. */
function recordPlaintext(index: number): { plaintext: Buffer; hash: Buffer } {
  const content = Buffer.from(`/srv/finance/${canary}-${index}.xlsx\n`.repeat(20 + (index % 40) * 10));
  const hash = createHash('sha256').update(content).digest();
  return { plaintext: Buffer.concat([hash, content]), hash };
}

describe('an encrypted store in a Ceph RGW bucket', { skip }, () => {
  let cluster: CephCluster;
  let staging: { folder: string; remove(): Promise<void> };

  before(async () => {
    cluster = await startCeph();
    staging = await stagingFolderFor('cps3e-');
  });
  after(async () => {
    await staging?.remove();
    await cluster?.stop();
  });

  test('grep over every object of the bucket finds no name, content or chunk hash; records read alone; the wrong key is refused', async () => {
    const key = await createKeyFile(join(staging.folder, 'store.key'));
    const storeId = randomBytes(16).toString('hex');
    const sealer = new RecordSealer(key, storeId);
    const backend = await S3Backend.open({
      endpoint: cluster.endpoint, bucket, prefix: 'site/', credentials: loadS3Credentials(cluster.credentialsFile), createBucket: true,
      multipartThreshold: 5 * 1024 * 1024, partSize: 5 * 1024 * 1024,
    });
    const hashes: Buffer[] = [];
    const places: { pack: string; offset: number; length: number; plaintext: Buffer }[] = [];
    try {
      // Three packs of sealed records; the last one big enough to go up as a multipart upload.
      for (const recordCount of [5, 40, 900]) {
        const pack = newName();
        const sealedRecords: Buffer[] = [];
        let offset = 0;
        for (let index = 0; index < recordCount; index++) {
          const { plaintext, hash } = recordPlaintext(index);
          const sealed = sealer.seal(pack, offset, plaintext);
          sealedRecords.push(sealed);
          places.push({ pack, offset, length: sealed.length, plaintext });
          hashes.push(hash);
          offset += sealed.length;
        }
        const staged = join(staging.folder, `staged-${pack}`);
        await writeFile(staged, Buffer.concat(sealedRecords));
        await backend.putPack(pack, staged);
      }
      assert.ok(backend.stats()['upload-part'].requests > 0, 'one pack went up in parts');

      // The catalog snapshot: names in clear inside the database, sealed before it leaves.
      const catalog = join(staging.folder, 'catalog.db');
      await writeFile(catalog, Array.from({ length: 5000 }, (_, index) => `/srv/finance/${canary}-${index}.xlsx|${hashes[index % hashes.length].toString('hex')}\n`).join(''));
      const sealedCatalog = join(staging.folder, 'catalog.sealed');
      await sealFile(key, { storeId, name: 'catalog-000001' }, catalog, sealedCatalog);
      await backend.putBlob('catalog-000001', sealedCatalog);

      // Any record reads back alone, by one Range GET.
      for (const place of [places[0], places[7], places[places.length - 1]]) {
        const sealed = await backend.readRange(place.pack, place.offset, place.length);
        assert.deepEqual(sealer.open(place.pack, place.offset, sealed), place.plaintext);
      }

      // Every object of the whole bucket, fetched by a client of its own, as someone with the bucket alone would.
      const dump = join(staging.folder, 'bucket-dump');
      const raw = new S3Client({
        endpoint: cluster.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: cluster.credentials,
        requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      });
      let objectCount = 0;
      try {
        let token: string | undefined;
        do {
          const page = await raw.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            const answer = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
            const file = join(dump, object.Key ?? '');
            await mkdir(dirname(file), { recursive: true });
            await writeFile(file, Buffer.from(await answer.Body?.transformToByteArray() ?? []));
            objectCount += 1;
          }
          token = page.NextContinuationToken;
        } while (token !== undefined);
      } finally {
        raw.destroy();
      }
      assert.equal(objectCount, 4, 'three packs and the snapshot');

      // The control proves the grep: the same text in clear is found.
      await writeFile(join(staging.folder, 'control'), places[3].plaintext);
      assert.equal(await grepExitCode(canary, join(staging.folder, 'control')), 0);
      assert.equal(await grepExitCode(canary, dump), 1, 'no file name or content in the bucket');
      assert.equal(await grepExitCode('/srv/finance', dump), 1);
      assert.equal(await grepExitCode(hashes[0].toString('hex'), dump), 1, 'no chunk hash in hex');
      const everything = await Promise.all(places.map((place) => place.pack).filter((pack, index, all) => all.indexOf(pack) === index)
        .map((pack) => readFile(join(dump, 'site', 'packs', pack.slice(0, 2), pack))));
      for (const hash of hashes.slice(0, 50)) {
        assert.equal(everything.some((pack) => pack.includes(hash)), false, 'no raw chunk hash in any pack');
      }

      // The snapshot from the bucket opens with the key, and with another key says so.
      const fetched = join(staging.folder, 'catalog.fetched');
      await backend.getBlob('catalog-000001', fetched);
      const restored = join(staging.folder, 'catalog.restored');
      await openSealedFile(key, { storeId, name: 'catalog-000001' }, fetched, restored);
      assert.deepEqual(await readFile(restored), await readFile(catalog));
      const otherKey = new StoreKey(randomBytes(32), 'key file /etc/cpsbackup/other.key');
      await assert.rejects(openSealedFile(otherKey, { storeId, name: 'catalog-000001' }, fetched, restored),
        (error: unknown) => error instanceof WrongKeyError && /catalog-000001 was sealed with key [0-9a-f]{16}, not with key file \/etc\/cpsbackup\/other.key/.test(error.message));
      const sealed = await backend.readRange(places[0].pack, places[0].offset, places[0].length);
      assert.throws(() => new RecordSealer(otherKey, storeId).open(places[0].pack, places[0].offset, sealed), WrongKeyError);
    } finally {
      await backend.close();
    }
  });
});
