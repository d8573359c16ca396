// Names of catalog snapshots in the bucket: one per generation, zero-padded so that listing order is age order.
const PATTERN = /^catalog-(\d{12})\.snapshot$/;

export function snapshotName(generation: number): string {
  return `catalog-${String(generation).padStart(12, '0')}.snapshot`;
}

/** The generation a blob name holds, or undefined for any other blob. */
export function generationOf(name: string): number | undefined {
  const match = PATTERN.exec(name);
  return match === null ? undefined : Number(match[1]);
}
