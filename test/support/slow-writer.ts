// A dumper for tests: writes seeded bytes (deterministicBytes) to stdout at a fixed rate, so a backup of
// its output lasts as long as a test needs. Run as `node slow-writer.js SEED BYTES BYTES_PER_SECOND`.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { deterministicBytes } from './trees';

const BLOCK_SIZE = 64 * 1024;

/** A shell command (for a storage.conf `dump =` line) that writes `size` bytes of `seed` at `bytesPerSecond`. */
export function slowWriterCommand(seed: string, size: number, bytesPerSecond: number): string {
  return `exec '${process.execPath}' '${__filename}' '${seed}' ${size} ${bytesPerSecond}`;
}

/** The SHA-256 (hex) of what slowWriterCommand(seed, size, …) writes. */
export async function slowWriterSha256(seed: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const block of deterministicBytes(seed, size, BLOCK_SIZE)) hash.update(block as Buffer);
  return hash.digest('hex');
}

async function writeSlowly(seed: string, size: number, bytesPerSecond: number): Promise<void> {
  const started = Date.now();
  let written = 0;
  for await (const block of deterministicBytes(seed, size, BLOCK_SIZE)) {
    // Each block waits for its turn on the schedule, so the rate holds however long a write blocked.
    const wait = started + (written / bytesPerSecond) * 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    // stdout to a pipe writes synchronously on Linux: a full FIFO blocks here, which is the backpressure wanted.
    process.stdout.write(block as Buffer);
    written += (block as Buffer).length;
  }
}

if (require.main === module) {
  const [seed, size, rate] = process.argv.slice(2);
  writeSlowly(seed, Number(size), Number(rate)).catch((error: unknown) => {
    process.stderr.write(`slow-writer: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
