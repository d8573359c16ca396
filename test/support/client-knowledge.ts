// What a store tells a client it holds, asked as the protocol asks: the chunks the store's chunker
// cuts a content into, their hashes, and how many of them a fresh session would ask the client to send.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ChunkStore } from '../../src/chunkstore/store';
import type { ReceivedChunk } from '../../src/chunkstore/session/chunk-intake';
import { Codec } from '../../src/chunkstore/pack/pack-format';

/** The chunks the store's chunker cuts `content` into, each its own buffer. */
export function chunksOf(store: ChunkStore, content: Buffer): Buffer[] {
  const chunker = store.chunkerFactory.create();
  return [...chunker.push(content), ...chunker.finish()].map((chunk) => Buffer.from(chunk));
}

export function hashOf(chunk: Buffer): Buffer {
  return createHash('sha256').update(chunk).digest();
}

/** The 32-byte hashes of `content`'s chunks, back to back: a chunk list as a client sends it. */
export function chunkHashes(store: ChunkStore, content: Buffer): Buffer {
  return Buffer.concat(chunksOf(store, content).map(hashOf));
}

/** Chunks as a client sends them, uncompressed. */
export function rawChunks(chunks: readonly Buffer[]): ReceivedChunk[] {
  return chunks.map((chunk) => ({ hash: hashOf(chunk), rawSize: chunk.length, codec: Codec.Raw, payload: chunk }));
}

/** Whether bit `index` of a missing-chunks bitmap is set (the server asks for that chunk). */
export function isMissing(bitmap: Buffer, index: number): boolean {
  return (bitmap[index >> 3] & (1 << (index & 7))) !== 0;
}

/** How many of the content's chunks the server would ask `client` to send (a fresh session, abandoned after the question). */
export async function missingCount(store: ChunkStore, client: string, content: Buffer): Promise<{ missing: number; of: number }> {
  const hashes = chunkHashes(store, content);
  const session = await store.beginBackup(client, { kind: 0, hostname: 'test', labels: {}, parentNumber: 0 });
  try {
    const bitmap = session.missingChunks(hashes);
    const of = hashes.length / 32;
    let missing = 0;
    for (let index = 0; index < of; index++) if (isMissing(bitmap, index)) missing++;
    return { missing, of };
  } finally {
    await session.abandon(new Error('only asked'));
  }
}

/** check finds no problem and no client told it holds what nothing of it references. */
export async function assertCheckClean(store: ChunkStore, label?: string): Promise<void> {
  const { problems, staleKnowledge } = await store.check({ readDataPercent: 0 });
  assert.deepEqual({ problems, staleKnowledge }, { problems: [], staleKnowledge: [] }, label);
}
