// The paths things are mounted on, as /proc/self/mountinfo lists them (its fifth field, with space, tab,
// newline and backslash written as octal escapes), as latin1 strings of their bytes. Empty where
// /proc is not mounted: the caller then knows of no mount point.
import { readFileSync } from 'node:fs';

export function mountPoints(): Set<string> {
  let table: Buffer;
  try {
    table = readFileSync('/proc/self/mountinfo');
  } catch {
    return new Set();
  }
  const points = new Set<string>();
  for (const line of table.toString('latin1').split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined) points.add(field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))));
  }
  return points;
}
