// List batches are cut by summaryBytesBound, not by encoding each summary twice: a bound that fell short
// of the encoded size would let a batch grow past its budget towards the 4 MiB message cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListBatch, type BackupSummary } from '../src/proto/cpsbackup';
import { summaryBytesBound } from '../src/server/backup-summary';
import { MAX_LABEL_KEY_BYTES, MAX_LABELS } from '../src/server/received-begin';

const LARGEST = Number.MAX_SAFE_INTEGER;

function summaryWith(labels: Record<string, string>, hostname: string): BackupSummary {
  return {
    backupId: LARGEST, startedAtMs: -LARGEST, finishedAtMs: -LARGEST, files: LARGEST, logicalBytes: LARGEST, newBytes: LARGEST, storedBytes: LARGEST,
    kind: -1, labels, deletable: true, hostname, unreadableFiles: 0xffff_ffff, isProtected: true,
  };
}

test('the bound is never less than the summary takes in a ListBatch, whatever its fields and labels hold', () => {
  const cases: [string, BackupSummary][] = [
    ['no labels', summaryWith({}, '')],
    ['the most labels, short', summaryWith(Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, index) => [String(index), ''])), 'h')],
    ['long keys and values of three-byte characters', summaryWith(
      Object.fromEntries(Array.from({ length: 20 }, (_, index) => [`${index}${'€'.repeat(MAX_LABEL_KEY_BYTES * 2)}`, '\u2028'.repeat(130_000)])), 'é'.repeat(1600))],
  ];
  for (const [name, summary] of cases) {
    const encoded = ListBatch.encode({ backups: [summary], isLast: true }).finish().length;
    assert.ok(summaryBytesBound(summary) >= encoded, `${name}: bound ${summaryBytesBound(summary)} < encoded ${encoded}`);
  }
});
