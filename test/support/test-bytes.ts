// Deterministic, incompressible test content from a seed: an AES-256-CTR keystream keyed by the seed's
// hash (fast enough for tens of MiB, and the same bytes on every run).
import { createCipheriv, createHash } from 'node:crypto';

export function testBytes(seed: string, size: number): Buffer {
  const cipher = createCipheriv('aes-256-ctr', createHash('sha256').update(seed).digest(), Buffer.alloc(16));
  return cipher.update(Buffer.alloc(size));
}
