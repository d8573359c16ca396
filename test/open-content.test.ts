// A big file is read straight into Data messages sized from the walk's size; whether the file
// stayed the same, grew or shrank since the walk, the frames hold exactly its bytes at read time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileContent } from '../src/client/open-content';
import { MAX_DATA_FRAME, PreparedData, serializeUploadRequest } from '../src/common/wire/fast-service';
import { UploadRequest } from '../src/proto/cpsbackup';

const MEBIBYTE = 1024 * 1024;

test('a file reads into frames of at most one Data message, exactly as it is now', async (t) => {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-open-content-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const bytes = randomBytes(3 * MEBIBYTE + 777);
  const path = join(folder, 'file.bin');
  await writeFile(path, bytes);
  for (const walkedSize of [bytes.length, 2 * MEBIBYTE, 5 * MEBIBYTE, 0, MEBIBYTE + 1]) {
    const frames: Buffer[] = [];
    for await (const frame of (await openFileContent(path, walkedSize))!) {
      const chunk = frame instanceof PreparedData ? frame.chunk : frame;
      assert.ok(chunk.length > 0 && chunk.length <= MAX_DATA_FRAME, `frame of ${chunk.length} bytes (walked size ${walkedSize})`);
      if (frame instanceof PreparedData) {
        // The prepared message is what the serializer sends: it must decode to the same bytes.
        const decoded = UploadRequest.decode(serializeUploadRequest({ message: { $case: 'data', value: frame } })).message;
        assert.ok(decoded?.$case === 'data' && Buffer.from(decoded.value.chunk).equals(chunk));
      }
      frames.push(Buffer.from(chunk));
    }
    assert.ok(Buffer.concat(frames).equals(bytes), `content differs when the walk said ${walkedSize} bytes`);
  }
  assert.equal(await openFileContent(join(folder, 'gone.bin'), 10), undefined);
});
