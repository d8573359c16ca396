// Where pack files live and how they are made durable: packs/<2 hex>/<name>.pack.
// fsync of a new file's folder is part of durability: without it the name can vanish on power loss.
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';

export function newPackName(): string {
  return randomBytes(16).toString('hex');
}

export function packPath(storeDirectory: string, packName: string): string {
  return join(storeDirectory, 'packs', packName.slice(0, 2), `${packName}.pack`);
}

export async function ensurePackFolder(storeDirectory: string, packName: string): Promise<void> {
  await mkdir(join(storeDirectory, 'packs', packName.slice(0, 2)), { recursive: true });
}

export async function fsyncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
