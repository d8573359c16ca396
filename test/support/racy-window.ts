// A file changed less than a second before a backup reads it is read again by the next backup
// (FileContent.isRecentlyChanged: a second write in the same timestamp tick would not show). A test
// that counts unchanged or carried files waits this long after writing them.
import { setTimeout as sleep } from 'node:timers/promises';

export function pastRacyWindow(): Promise<void> {
  return sleep(1_100);
}
