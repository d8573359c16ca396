// MessageBatcher's contract, which every streamed answer cut by it relies on (EntryBatch, ListBatch):
// a batch leaves once it stands for maxItems or takes maxBytes, flush() sends the rest, nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageBatcher } from '../src/common/wire/message-batcher';

async function batchesOf(items: readonly { name: string; bytes: number; count?: number }[], limits: { maxItems: number; maxBytes: number }): Promise<string[][]> {
  const sent: string[][] = [];
  const batcher = new MessageBatcher<string>(limits, (batch) => { sent.push(batch); return Promise.resolve(); });
  for (const item of items) await batcher.add(item.name, item.bytes, item.count);
  await batcher.flush();
  return sent;
}

test('a batch leaves at maxItems small items, at maxBytes of large ones, and flush sends the rest', async () => {
  const small = Array.from({ length: 7 }, (_, index) => ({ name: `s${index}`, bytes: 10 }));
  assert.deepEqual(await batchesOf(small, { maxItems: 3, maxBytes: 1000 }), [['s0', 's1', 's2'], ['s3', 's4', 's5'], ['s6']]);
  const large = [{ name: 'a', bytes: 600 }, { name: 'b', bytes: 600 }, { name: 'c', bytes: 2000 }, { name: 'd', bytes: 1 }];
  assert.deepEqual(await batchesOf(large, { maxItems: 100, maxBytes: 1000 }), [['a', 'b'], ['c'], ['d']]);
});

test('an item standing for many counts as many, and a batcher with nothing gathered sends nothing', async () => {
  const items = [{ name: 'one', bytes: 1 }, { name: 'run', bytes: 1, count: 50 }, { name: 'after', bytes: 1 }];
  assert.deepEqual(await batchesOf(items, { maxItems: 10, maxBytes: 1000 }), [['one', 'run'], ['after']]);
  assert.deepEqual(await batchesOf([], { maxItems: 10, maxBytes: 1000 }), []);
});
