// Where a shared open file description stands: a loader given a dump as its stdin moves the offset
// this process sees too, so after it exits the offset tells how much of the dump it read. Node has
// no lseek; Linux shows the offset in /proc/self/fdinfo.
import { readFile } from 'node:fs/promises';

/** The offset of `fd`, or undefined where /proc is not there to ask. */
export async function offsetOf(fd: number): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/self/fdinfo/${fd}`, 'latin1');
  } catch {
    return undefined;
  }
  const found = /^pos:\s*(\d+)$/m.exec(text);
  return found === null ? undefined : Number(found[1]);
}
