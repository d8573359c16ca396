// A writev that writes less than it was given and says nothing (libuv returns the count written so far
// when a later write of its loop fails with ENOSPC) must not leave a pack shorter than its records: the
// rest is written again, where a full disk then fails loudly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writevAll } from '../src/chunkstore/pack/pack-writer';

/** A file handle that takes at most `perCall` bytes a call, then, after `failAfter` bytes in all, fails as a full disk. */
function shortWritingHandle(perCall: number, failAfter = Number.POSITIVE_INFINITY): { handle: Parameters<typeof writevAll>[0]; file: Buffer[] } {
  const file: Buffer[] = [];
  let written = 0;
  const handle = {
    writev: async (buffers: readonly NodeJS.ArrayBufferView[], position?: number | null): Promise<{ bytesWritten: number; buffers: NodeJS.ArrayBufferView[] }> => {
      if (written >= failAfter) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const bytes = Buffer.concat(buffers.map((view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength)));
      assert.equal(position, written, 'each call continues where the last one stopped');
      const taken = bytes.subarray(0, Math.min(perCall, bytes.length, failAfter - written));
      file.push(Buffer.from(taken));
      written += taken.length;
      return { bytesWritten: taken.length, buffers: [...buffers] };
    },
  };
  return { handle: handle as Parameters<typeof writevAll>[0], file };
}

test('writevAll writes every byte of every piece in order, however short each write is', async () => {
  const pieces = [Buffer.from('header-'), Buffer.alloc(1000, 0x61), Buffer.from(''), Buffer.from('-trailer')];
  for (const perCall of [1, 3, 7, 999, 1000, 1007, 5000]) {
    const { handle, file } = shortWritingHandle(perCall);
    await writevAll(handle, pieces, 0);
    assert.deepEqual(Buffer.concat(file), Buffer.concat(pieces), `${perCall} bytes a call`);
  }
});

test('writevAll fails with the disk\'s error when the rest cannot be written, instead of counting it written', async () => {
  const { handle, file } = shortWritingHandle(600, 600);
  await assert.rejects(writevAll(handle, [Buffer.alloc(1024, 1)], 0), { code: 'ENOSPC' });
  assert.equal(Buffer.concat(file).length, 600);
});
