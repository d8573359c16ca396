// Rabin-fingerprint chunking through the npm package rabin-wasm (AssemblyScript compiled to wasm).
// One wasm instance per factory, one small wasm object per chunker; every wasm allocation is released.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Chunker, ChunkerFactory, ChunkerParams } from './chunker';
import { PendingBytes } from './pending';

/** Bytes of the rolling window; rabin-wasm's own default. */
const WINDOW_SIZE = 64;
/** Input handed to wasm per call: bounds the wasm memory whatever size the caller pushes. */
const FEED_SIZE = 1024 * 1024;

/** The part of rabin-wasm's AssemblyScript exports (through @assemblyscript/loader) used here. */
interface RabinWasm {
  Rabin: new (averageBits: number, minSize: number, maxSize: number, windowSize: number) => RabinHandle;
  Int32Array_ID: number;
  Uint8Array_ID: number;
  __retain(pointer: number): number;
  __release(pointer: number): void;
  __allocArray(id: number, values: ArrayLike<number>): number;
  __getInt32Array(pointer: number): Int32Array;
}

interface RabinHandle {
  /** Scans the bytes at `bufferPointer`; writes the length of each chunk completed into `lengthsPointer`. */
  fingerprint(bufferPointer: number, lengthsPointer: number): number;
  valueOf(): number;
}

interface AssemblyScriptLoader {
  /** Compiles and instantiates wasm bytes (@types/node has no WebAssembly types, hence the loader). */
  instantiate(source: Uint8Array, imports: object): Promise<RabinWasm>;
}

/** rabin-wasm's average size is 2^bits: the power of two nearest to avgSize. */
export function rabinAverageBits(avgSize: number): number {
  return Math.round(Math.log2(avgSize));
}

async function loadRabinWasm(): Promise<RabinWasm> {
  const packageFolder = path.dirname(require.resolve('rabin-wasm/package.json'));
  // The loader is rabin-wasm's own dependency: resolve it from there, not from our package.
  const loader = require(require.resolve('@assemblyscript/loader', { paths: [packageFolder] })) as AssemblyScriptLoader;
  return loader.instantiate(await readFile(path.join(packageFolder, 'dist', 'rabin.wasm')), {});
}

class RabinChunker implements Chunker {
  private readonly pending = new PendingBytes();
  /** The wasm object holding the rolling state; created on the first push of each stream. */
  private handle: RabinHandle | undefined;

  constructor(
    private readonly wasm: RabinWasm,
    private readonly params: ChunkerParams,
    private readonly leftovers: FinalizationRegistry<number>,
  ) {}

  push(data: Buffer): Buffer[] {
    const chunks: Buffer[] = [];
    for (let start = 0; start < data.length; start += FEED_SIZE) {
      const piece = data.subarray(start, Math.min(start + FEED_SIZE, data.length));
      let chunkStart = -this.pending.length;
      for (const length of this.fingerprint(piece)) {
        const end = chunkStart + length;
        chunks.push(chunkStart < 0 ? this.pending.takeWith(piece, end) : piece.subarray(chunkStart, end));
        chunkStart = end;
      }
      this.pending.keepTail(piece, Math.max(chunkStart, 0));
    }
    return chunks;
  }

  finish(): Buffer[] {
    const last = this.pending.takeWith(Buffer.alloc(0), 0);
    this.releaseHandle();
    return last.length > 0 ? [last] : [];
  }

  private fingerprint(piece: Buffer): Int32Array {
    const wasm = this.wasm;
    const handle = this.handle ?? this.createHandle();
    // Every chunk but the first of a piece holds at least minSize of its bytes.
    const capacity = Math.ceil(piece.length / this.params.minSize);
    const lengthsPointer = wasm.__retain(wasm.__allocArray(wasm.Int32Array_ID, new Int32Array(capacity)));
    const bufferPointer = wasm.__retain(wasm.__allocArray(wasm.Uint8Array_ID, piece));
    try {
      const resultPointer = handle.fingerprint(bufferPointer, lengthsPointer);
      // The result comes back retained once more (AssemblyScript's rule for returned
      // references); rabin-wasm's own wrapper forgets that and leaks one array per call.
      const lengths = wasm.__getInt32Array(resultPointer);
      wasm.__release(resultPointer);
      const end = lengths.indexOf(0);
      return end >= 0 ? lengths.subarray(0, end) : lengths;
    } finally {
      wasm.__release(bufferPointer);
      wasm.__release(lengthsPointer);
    }
  }

  private createHandle(): RabinHandle {
    const { minSize, avgSize, maxSize } = this.params;
    const handle = new this.wasm.Rabin(rabinAverageBits(avgSize), minSize, maxSize, WINDOW_SIZE);
    this.handle = handle;
    // A chunker dropped mid-stream still frees its wasm object.
    this.leftovers.register(this, handle.valueOf(), this);
    return handle;
  }

  private releaseHandle(): void {
    if (this.handle === undefined) return;
    this.leftovers.unregister(this);
    this.wasm.__release(this.handle.valueOf());
    this.handle = undefined;
  }
}

/** Loads rabin-wasm once and makes chunkers sharing it; params must already be validated. */
export async function loadRabinFactory(params: ChunkerParams): Promise<ChunkerFactory> {
  const wasm = await loadRabinWasm();
  const leftovers = new FinalizationRegistry<number>((pointer) => wasm.__release(pointer));
  return {
    params,
    create: () => new RabinChunker(wasm, params, leftovers),
  };
}
