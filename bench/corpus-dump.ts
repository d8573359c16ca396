// Writes the corpus's JSON-lines "database dump" (one record per line, like mongoexport output).
// Generation 2 changes ~1% of records in clustered regions (recent ones hotter), deletes a few, appends some.
import { createWriteStream } from 'node:fs';
import { rename } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Random } from './prng';

/** Average serialized record length, used to turn a byte budget into a record count. */
export const averageRecordBytes = 230;
/** Changes cluster in regions of up to 64 records; small dumps get smaller regions so some still change. */
function regionRecords(records: number): number {
  return Math.min(64, Math.max(4, Math.floor(records / 1000)));
}
const firstNames = ['Ada', 'Alan', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Radia', 'Edsger', 'Frances', 'John'];
const lastNames = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Perlman', 'Dijkstra', 'Allen', 'Backus'];
const tags = ['vip', 'trial', 'churned', 'eu', 'us', 'apac', 'beta', 'legacy', 'partner', 'internal'];

export interface DumpChanges {
  readonly records: number;
  readonly changed: number;
  readonly deleted: number;
  readonly appended: number;
}

function baseRecord(seed: number, index: number): Record<string, unknown> {
  const random = Random.from(seed, 'record', index);
  const first = random.pick(firstNames);
  const last = random.pick(lastNames);
  const created = 1_600_000_000 + index * 60 + random.integer(0, 59);
  const recordTags: string[] = [];
  for (let count = random.integer(0, 3); count > 0; count--) recordTags.push(random.pick(tags));
  return {
    _id: (created.toString(16) + index.toString(16).padStart(16, '0')).slice(-24),
    name: `${first} ${last}`,
    email: `${first}.${last}${index}@example.com`.toLowerCase(),
    created: new Date(created * 1000).toISOString(),
    updated: new Date((created + random.integer(0, 86_400 * 30)) * 1000).toISOString(),
    balance: Math.round(random.next() * 1_000_000) / 100,
    visits: random.integer(0, 5000),
    active: random.next() < 0.8,
    tags: recordTags,
    version: 1,
  };
}

type Fate = 'same' | 'changed' | 'deleted';

/** Whether generation 2 keeps, changes or deletes a record; changes cluster in dirty regions. */
function fate(seed: number, index: number, records: number): Fate {
  const size = regionRecords(records);
  const region = Math.floor(index / size);
  const regions = Math.ceil(records / size);
  const isRecent = region >= regions * 0.9;
  if (Random.from(seed, 'region', region).next() >= (isRecent ? 0.05 : 0.0125)) return 'same';
  const roll = Random.from(seed, 'fate', index).next();
  if (roll < 0.05) return 'deleted';
  return roll < 0.65 ? 'changed' : 'same';
}

function changedRecord(seed: number, index: number): Record<string, unknown> {
  const record = baseRecord(seed, index);
  const random = Random.from(seed, 'change', index);
  record.updated = new Date((1_800_000_000 + random.integer(0, 86_400)) * 1000).toISOString();
  record.balance = Math.round(random.next() * 1_000_000) / 100;
  record.visits = (record.visits as number) + random.integer(1, 50);
  record.version = 2;
  return record;
}

/** Lines for one generation, batched so the stream moves ~64 KiB strings instead of single lines. */
function* dumpLines(seed: number, records: number, generation: 1 | 2, changes: { changed: number; deleted: number; appended: number }): Generator<string> {
  let batch: string[] = [];
  let batchLength = 0;
  const appended = generation === 2 ? Math.floor(records * 0.005) : 0;
  for (let index = 0; index < records + appended; index++) {
    let record: Record<string, unknown>;
    if (index >= records) {
      record = baseRecord(seed + 1, index);
      changes.appended++;
    } else if (generation === 1) {
      record = baseRecord(seed, index);
    } else {
      const recordFate = fate(seed, index, records);
      if (recordFate === 'deleted') {
        changes.deleted++;
        continue;
      }
      if (recordFate === 'changed') changes.changed++;
      record = recordFate === 'changed' ? changedRecord(seed, index) : baseRecord(seed, index);
    }
    const text = JSON.stringify(record);
    batch.push(text);
    batchLength += text.length + 1;
    if (batchLength >= 65536) {
      yield batch.join('\n') + '\n';
      batch = [];
      batchLength = 0;
    }
  }
  if (batch.length > 0) yield batch.join('\n') + '\n';
}

/** Writes the dump to a temporary name then renames it, as a real dump job replaces its output. */
export async function writeDump(path: string, seed: number, records: number, generation: 1 | 2): Promise<DumpChanges> {
  const counts = { changed: 0, deleted: 0, appended: 0 };
  const temporary = `${path}.partial`;
  await pipeline(Readable.from(dumpLines(seed, records, generation, counts)), createWriteStream(temporary));
  await rename(temporary, path);
  return { records: records + counts.appended - counts.deleted, ...counts };
}
