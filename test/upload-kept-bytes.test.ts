// An upload session keeps a fingerprint per path until its backup ends (seen-paths.ts), counted against
// a byte budget (kept-bytes.ts): past it the backup is refused with a LimitError naming the client and
// the backup, never a server whose memory grows with what one client sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeptBytes, MAX_UPLOAD_KEPT_BYTES } from '../src/server/kept-bytes';
import { SeenPaths } from '../src/server/seen-paths';

const path = (index: number): Buffer => Buffer.from(`/data/${index}`);

test('a path is seen once; a path never added is never reported as maybe seen by chance alone here', () => {
  const seen = new SeenPaths(new KeptBytes(() => 'client "node1", backup 1'));
  for (let index = 0; index < 200_000; index++) seen.add(path(index));
  assert.equal(seen.add(path(7)), false);
  assert.equal(seen.mayHave(path(199_999)), true);
  let maybe = 0;
  for (let index = 200_000; index < 400_000; index++) if (seen.mayHave(path(index))) maybe++;
  // A shared 4-byte fingerprint: about 200,000² / 2³² ≈ 9 of them; many more would mean a broken table.
  assert.ok(maybe < 100, `${maybe} paths never added looked seen`);
});

test('the table grows within the budget, and a backup past it is refused naming the client and the backup', () => {
  const budget = new KeptBytes(() => 'client "node1", backup 12', 1024 * 1024);
  const seen = new SeenPaths(budget);
  // 256 KiB of slots, then 512 KiB (both live while it grows): the next, 1 MiB beside 512 KiB, passes 1 MiB.
  // That is at 3/4 of 128 Ki slots, a few paths later if some shared a fingerprint.
  let added = 0;
  let refusal: Error | undefined;
  for (; added < 200_000 && refusal === undefined; added++) {
    try {
      seen.add(path(added));
    } catch (error) {
      refusal = error as Error;
    }
  }
  assert.ok(refusal !== undefined, 'never refused');
  assert.ok(added >= (1 << 17) * 0.75 && added < (1 << 17) * 0.75 + 100, `refused at path ${added}`);
  assert.equal(budget.bytes, 512 * 1024, 'what the refused growth would have charged is not kept');
  assert.equal(refusal.name, 'LimitError');
  assert.match(refusal.message, /^client "node1", backup 12: its \d+ paths would keep 1\.5 MiB on the server until the backup ends, more than the 1 MiB one backup may keep; refused$/);
});

test('an honest backup of a million paths fits the budget', () => {
  const budget = new KeptBytes(() => 'client "node1", backup 1');
  const seen = new SeenPaths(budget);
  for (let index = 0; index < 1_000_000; index++) seen.add(path(index));
  assert.ok(budget.bytes <= 8 * 1024 * 1024 && budget.bytes < MAX_UPLOAD_KEPT_BYTES, `${budget.bytes} bytes kept`);
});
