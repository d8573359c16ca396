// Buffers that travel between the restore's main thread and its decoder workers and are used again.

/** Buffers are sized in whole granules, so that groups of slightly different sizes fit each other's buffers. */
const GRANULE = 256 * 1024;

/** `size` bytes at the start of a buffer of its own (transferable, not a slice of the shared pool), not zero-filled. */
export function reusableBuffer(size: number): Buffer {
  return Buffer.allocUnsafeSlow(Math.max(GRANULE, Math.ceil(size / GRANULE) * GRANULE)).subarray(0, size);
}

/** `size` bytes at the start of the first free buffer large enough (taken from `free`), or of a new one. */
export function takeReusable(free: ArrayBuffer[], size: number): Buffer {
  const index = free.findIndex((buffer) => buffer.byteLength >= size);
  if (index < 0) return reusableBuffer(size);
  const [buffer] = free.splice(index, 1);
  return Buffer.from(buffer, 0, size);
}
