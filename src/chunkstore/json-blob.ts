// Small JSON records kept as blobs beside the packs (the store identity, lease records), through a
// file of their own in the staging folder, removed whatever happens; sealed with the store's key
// when one is given (a record that names hosts or folders), plain otherwise (the identity, which
// `recover` must read before it has the key's id).
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PackBackend } from './backend/pack-backend';
import { openSealedFile, sealFile } from './crypto/sealed-file';
import type { StoreKey } from './crypto/store-key';

/** The store's key and id, for a record that is sealed. */
export interface BlobSeal {
  readonly key: StoreKey;
  readonly storeId: string;
}

export async function putJsonBlob(backend: PackBackend, stagingDirectory: string, name: string, value: unknown, seal?: BlobSeal): Promise<void> {
  const base = stagedBase(stagingDirectory, name);
  try {
    await writeFile(`${base}.json`, `${JSON.stringify(value)}\n`, { mode: 0o600 });
    if (seal !== undefined) await sealFile(seal.key, { storeId: seal.storeId, name }, `${base}.json`, `${base}.sealed`);
    await backend.putBlob(name, seal === undefined ? `${base}.json` : `${base}.sealed`);
  } finally {
    await removeStaged(base);
  }
}

/** The parsed record; NotFoundError for a missing blob, SyntaxError for one that is not JSON. */
export async function getJsonBlob(backend: PackBackend, stagingDirectory: string, name: string, seal?: BlobSeal): Promise<unknown> {
  const base = stagedBase(stagingDirectory, name);
  try {
    await backend.getBlob(name, `${base}.fetched`);
    if (seal !== undefined) await openSealedFile(seal.key, { storeId: seal.storeId, name }, `${base}.fetched`, `${base}.json`);
    return JSON.parse(await readFile(seal === undefined ? `${base}.fetched` : `${base}.json`, 'utf8'));
  } finally {
    await removeStaged(base);
  }
}

function stagedBase(stagingDirectory: string, name: string): string {
  return join(stagingDirectory, `${name}.${randomBytes(6).toString('hex')}`);
}

async function removeStaged(base: string): Promise<void> {
  await Promise.all(['.json', '.sealed', '.fetched'].map((suffix) => rm(`${base}${suffix}`, { force: true })));
}
