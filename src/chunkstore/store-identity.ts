// Which store a catalog and a bucket belong to, and with which key: a random store id and the key id,
// kept in the catalog's meta and, for a store that leaves the server, in a small plain blob beside the
// packs, so `recover` learns both from the bucket alone and a wrong key is named before any read.
import { randomBytes } from 'node:crypto';
import type { PackBackend } from './backend/pack-backend';
import { getJsonBlob, putJsonBlob } from './json-blob';
import type { Catalog } from './catalog/catalog';
import { assertStoreKey, type StoreKey } from './crypto/store-key';
import { ConfigError, CorruptError, NotFoundError } from '../common/errors';

export const IDENTITY_BLOB = 'store-identity.json';
/**
 * A second copy: the identity is the one thing `recover` cannot do without (every snapshot and record is sealed with the
 * store id, which is random), and with the one blob deleted, the server refused to start and `recover` found "no cpsbackup
 * store" while every pack and snapshot was there (red team reds3). Either copy serves; a missing one is written again.
 */
export const IDENTITY_COPY_BLOB = 'store-identity.copy.json';
const IDENTITY_BLOBS = [IDENTITY_BLOB, IDENTITY_COPY_BLOB] as const;
const IDENTITY_FORMAT = 'cpsbackup-store-v1';
/** What the catalog records for a store whose packs are not sealed. */
const UNENCRYPTED = 'none';

export interface StoreIdentity {
  readonly storeId: string;
  /** Hex key id, or undefined for an unencrypted store. */
  readonly keyId: string | undefined;
}

interface IdentityContext {
  readonly catalog: Catalog;
  readonly backend: PackBackend;
  readonly key: StoreKey | undefined;
  readonly stagingDirectory: string;
  /** The file that chose the key (server.conf), named in errors. */
  readonly configFile: string;
}

/** The store's identity, made on first open; refuses the wrong key, a missing key, and a bucket holding another store. */
export async function establishIdentity(context: IdentityContext): Promise<StoreIdentity> {
  const { catalog, backend, key, configFile } = context;
  const storeId = catalog.meta.get('store_id');
  if (storeId === undefined) return createIdentity(context);
  const recordedKey = catalog.meta.get('encryption_key_id') ?? UNENCRYPTED;
  if (recordedKey === UNENCRYPTED && key !== undefined) {
    throw new ConfigError(configFile, undefined, `the store in ${backend.location} was made unencrypted; encryption_key_file can only be set for a new store`);
  }
  if (recordedKey !== UNENCRYPTED && key === undefined) {
    throw new ConfigError(configFile, undefined, `the store in ${backend.location} is encrypted (key ${recordedKey}); set encryption_key_file to its key file`);
  }
  if (key !== undefined) assertStoreKey(key, recordedKey, `the store in ${backend.location}`);
  const identity = { storeId, keyId: key?.keyIdHex };
  if (backend.kind !== 'local') {
    const stored = await readIdentity(backend, context.stagingDirectory);
    if (stored === undefined) {
      throw new ConfigError(configFile, undefined, `${backend.location} holds no cpsbackup store (no ${IDENTITY_BLOB} nor ${IDENTITY_COPY_BLOB}), but this server's catalog `
        + `${catalog.file} belongs to store ${storeId}: wrong s3_bucket or s3_prefix?`);
    }
    if (stored.storeId !== storeId) {
      throw new ConfigError(configFile, undefined, `${backend.location} holds store ${stored.storeId}, but this server's catalog ${catalog.file} `
        + `belongs to store ${storeId}: wrong s3_bucket or s3_prefix?`);
    }
  }
  return identity;
}

async function createIdentity(context: IdentityContext): Promise<StoreIdentity> {
  const { catalog, backend, key, configFile } = context;
  const hasData = catalog.packs.count() > 0 || catalog.backups.totals().backups > 0;
  if (hasData && key !== undefined) {
    throw new ConfigError(configFile, undefined, `the store in ${backend.location} holds unencrypted packs; encryption_key_file can only be set for a new store`);
  }
  if (!hasData && backend.kind !== 'local') {
    // A new catalog over a bucket that already holds a store would take its packs for orphans and delete them.
    const stored = await readIdentity(backend, context.stagingDirectory);
    const hasPacks = await hasAny(backend.listPacks());
    if (stored !== undefined || hasPacks) {
      throw new ConfigError(configFile, undefined, `${backend.location} already holds a cpsbackup store${stored ? ` (${stored.storeId})` : ''} `
        + `but ${catalog.file} is new: run \`cpsbackup-server recover\` to rebuild the catalog from the bucket, or use another s3_prefix`);
    }
  }
  const identity: StoreIdentity = { storeId: randomBytes(16).toString('hex'), keyId: key?.keyIdHex };
  if (backend.kind !== 'local') await writeIdentity(backend, identity, context.stagingDirectory);
  catalog.transaction(() => {
    catalog.meta.set('store_id', identity.storeId);
    catalog.meta.set('encryption_key_id', identity.keyId ?? UNENCRYPTED);
  }, true);
  return identity;
}

async function hasAny(objects: AsyncIterable<unknown>): Promise<boolean> {
  for await (const object of objects) return object !== undefined;
  return false;
}

/** The identity a bucket holds (its first copy that is there), or undefined when it holds none. */
export async function readIdentity(backend: PackBackend, stagingDirectory: string): Promise<StoreIdentity | undefined> {
  for (const name of IDENTITY_BLOBS) {
    const identity = await readIdentityBlob(backend, stagingDirectory, name);
    if (identity !== undefined) return identity;
  }
  return undefined;
}

async function readIdentityBlob(backend: PackBackend, stagingDirectory: string, name: string): Promise<StoreIdentity | undefined> {
  try {
    const parsed = await getJsonBlob(backend, stagingDirectory, name) as { format?: unknown; storeId?: unknown; keyId?: unknown };
    if (parsed.format !== IDENTITY_FORMAT || typeof parsed.storeId !== 'string' || !(parsed.keyId === null || typeof parsed.keyId === 'string')) {
      throw new CorruptError(`${backend.location}: ${name} is not a cpsbackup store identity`);
    }
    return { storeId: parsed.storeId, keyId: parsed.keyId ?? undefined };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    if (error instanceof SyntaxError) throw new CorruptError(`${backend.location}: ${name} is not valid JSON`);
    throw error;
  }
}

/**
 * Writes again each copy of the identity the bucket lacks (a bucket made before the second copy, or one deleted behind the
 * server's back); returns their names. For the bucket's lease holder, once establishIdentity matched the identity to the catalog.
 */
export async function restoreMissingIdentity(backend: PackBackend, identity: StoreIdentity, stagingDirectory: string): Promise<string[]> {
  const written: string[] = [];
  for (const name of IDENTITY_BLOBS) {
    if (await readIdentityBlob(backend, stagingDirectory, name) !== undefined) continue;
    await writeIdentityBlob(backend, identity, stagingDirectory, name);
    written.push(name);
  }
  return written;
}

async function writeIdentity(backend: PackBackend, identity: StoreIdentity, stagingDirectory: string): Promise<void> {
  for (const name of IDENTITY_BLOBS) await writeIdentityBlob(backend, identity, stagingDirectory, name);
}

function writeIdentityBlob(backend: PackBackend, identity: StoreIdentity, stagingDirectory: string, name: string): Promise<void> {
  return putJsonBlob(backend, stagingDirectory, name, { format: IDENTITY_FORMAT, storeId: identity.storeId, keyId: identity.keyId ?? null });
}
