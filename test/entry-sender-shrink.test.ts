// A file truncated while the backup reads it (log rotation's copytruncate, a program rewriting it in
// place): what was read is neither the old file nor the new one. Regression: a 400 MiB file truncated to
// 1,000 bytes 0.9 s into its read was stored as its first 17 MiB, with a warning and exit 0. Now the
// sender reads it once more and stores it as it is then (a warning says so); one that shrinks again is
// reported as not in the backup (exit 3). Each way of sending a file: chunks cut by the client, and bytes
// streamed for the server to chunk. The truncation lands between two frames of the read: the fakes
// below run it when the sender hands them the first frame.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walk } from '../src/client/walker';
import { EntrySender, type SendProgress } from '../src/client/entry-sender';
import type { ChunkUploader } from '../src/client/chunking/chunk-uploader';
import type { ParentIndex } from '../src/client/parent-index';
import type { UploadStream } from '../src/client/upload-stream';
import type { BatchedEntry, EntryMeta, UploadRequest } from '../src/proto/cpsbackup';
import { PreparedData } from '../src/common/wire/fast-service';
import { removeTree } from './support/remove-tree';

const MIB = 1024 * 1024;
const FILE_SIZE = 8 * MIB;
const CUT_SIZE = 1000;

function progressOf(): SendProgress {
  return { files: 0, bytesRead: 0, unchangedFiles: 0, carriedFiles: 0, warnings: [], unreadable: [], changedWhileRead: [], sentBytes: 0 };
}

const noParent = { acceptsCarriedRuns: false, lookup: () => undefined, get: async () => undefined } as unknown as ParentIndex;

/** A folder holding one file of FILE_SIZE bytes (over the inline bound: read frame by frame), and its path. */
function treeWithBigFile(t: TestContext): { root: string; file: string } {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'cpsbackup-shrink-send-')));
  t.after(() => removeTree(root));
  const file = join(root, 'app.log');
  writeFileSync(file, Buffer.alloc(FILE_SIZE, 0x61));
  return { root, file };
}

/** Walks the tree and sends each entry through the sender. */
async function sendTree(root: string, sender: EntrySender): Promise<void> {
  for (const entry of walk({
    includes: [root], excludeRegex: [], readAllFifos: false, skipPaths: new Set(),
    onWarning: (message) => assert.fail(message), onUnreadable: (path, reason) => assert.fail(`${path}: ${reason}`),
  })) await sender.send(entry);
}

function bytesOf(piece: Buffer | PreparedData): Buffer {
  return piece instanceof PreparedData ? piece.chunk : piece;
}

/**
 * As the client's chunk uploader takes a file: its pieces read to the end, then its entry. `cuts`: the
 * size the file is cut to after the first frame of each read, in turn (a read of a file within the
 * inline bound is one synchronous read, done before the uploader is called: it is never cut).
 */
function chunkUploader(file: string, cuts: readonly number[]): { uploader: ChunkUploader; files: { meta: EntryMeta; size: number }[] } {
  const files: { meta: EntryMeta; size: number }[] = [];
  let reads = 0;
  const uploader = {
    async sendFile(meta: EntryMeta, content: AsyncIterable<Buffer | PreparedData> | Iterable<Buffer>): Promise<number> {
      const cut = cuts[reads++];
      let size = 0;
      for await (const piece of content) {
        if (cut !== undefined && size === 0) truncateSync(file, cut);
        size += bytesOf(piece).length;
      }
      files.push({ meta, size });
      return size;
    },
    async add(): Promise<void> {},
    async flush(): Promise<void> {},
  } as unknown as ChunkUploader;
  return { uploader, files };
}

test('chunks cut by the client: a file truncated while read is read again and stored as it is then, with a warning', async (t) => {
  const { root, file } = treeWithBigFile(t);
  const progress = progressOf();
  const { uploader, files } = chunkUploader(file, [CUT_SIZE]);
  await sendTree(root, new EntrySender(undefined as unknown as UploadStream, uploader, noParent, progress, uploader));
  assert.deepEqual(progress.unreadable, []);
  assert.deepEqual(files.map((sent) => [sent.meta.path.toString(), Number(sent.meta.size), sent.size]), [[file, CUT_SIZE, CUT_SIZE]],
    'one entry, the file as it is now (before the fix: 8 MiB declared, 1 MiB of the old file stored)');
  assert.deepEqual(progress.warnings, [`${file}: file shrank while being read (read again and stored as it was then)`]);
  assert.deepEqual(progress.changedWhileRead, [file]);
  assert.equal(progress.files, 1);
  assert.equal(progress.bytesRead, CUT_SIZE);
});

test('chunks cut by the client: a file truncated at both reads is reported as not in the backup, and no entry names it', async (t) => {
  const { root, file } = treeWithBigFile(t);
  const progress = progressOf();
  // Cut to 2 MiB 1 MiB into the first read; the second read (of 2 MiB, frame by frame) is cut to 10 bytes.
  const { uploader, files } = chunkUploader(file, [2 * MIB, 10]);
  await sendTree(root, new EntrySender(undefined as unknown as UploadStream, uploader, noParent, progress, uploader));
  assert.deepEqual(files, []);
  assert.deepEqual(progress.unreadable, [{ path: file, reason: 'it shrank while it was read, and again when it was read a second time' }]);
  assert.equal(progress.files, 0);
});

test('bytes streamed for the server to chunk: the first entry is dropped (EntryEnd with its damage), the file sent again as it is then', async (t) => {
  const { root, file } = treeWithBigFile(t);
  const progress = progressOf();
  const messages: UploadRequest[] = [];
  let isCut = false;
  const stream = {
    async send(message: UploadRequest): Promise<void> {
      if (message.message?.$case === 'data' && !isCut) {
        // Still over the inline bound: the second read is streamed too.
        isCut = true;
        truncateSync(file, 2 * MIB);
      }
      messages.push(message);
    },
  } as unknown as UploadStream;
  const batched: string[] = [];
  const batcher = { add: async (entry: BatchedEntry) => { batched.push(entry.meta!.path.toString()); }, flush: async () => undefined };
  await sendTree(root, new EntrySender(stream, batcher, noParent, progress));
  const fileMessages = messages.map((message) => {
    const body = message.message!;
    if (body.$case === 'entry') return `entry ${Number(body.value.meta!.size)}`;
    if (body.$case === 'data') return 'data';
    if (body.$case === 'entryEnd') return `end ${body.value.size}${body.value.damage === '' ? '' : ` (${body.value.damage})`}`;
    return body.$case;
  }).filter((shown, index, all) => shown !== 'data' || all[index - 1] !== 'data');
  assert.deepEqual(fileMessages, [`entry ${FILE_SIZE}`, 'data', `end ${2 * MIB} (cannot be read: it shrank while it was read)`,
    `entry ${2 * MIB}`, 'data', `end ${2 * MIB}`]);
  assert.deepEqual(batched, [root], 'the folder only: the file was streamed both times');
  assert.equal(progress.bytesRead, 2 * MIB, 'the bytes of the read stored, not those of the read cut short too');
  assert.deepEqual(progress.unreadable, []);
  assert.deepEqual(progress.warnings, [`${file}: file shrank while being read (read again and stored as it was then)`]);
  assert.equal(progress.files, 1);
});
