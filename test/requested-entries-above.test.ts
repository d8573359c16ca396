// The folders a restore did not ask for but the server sends above what it did ask for are passed on
// marked, so that the writer makes them when missing and never changes one already there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryMeta, EntryType } from '../src/proto/cpsbackup';
import { RequestedEntries } from '../src/client/requested-entries';
import type { RestoreMessageItem } from '../src/client/restore-messages';

function item(path: string, type: EntryType): RestoreMessageItem {
  return { meta: EntryMeta.fromPartial({ path: Buffer.from(path), type, nlink: 1 }) };
}

async function marks(requested: RequestedEntries, items: RestoreMessageItem[]): Promise<string[]> {
  async function* sent(): AsyncGenerator<RestoreMessageItem> {
    yield* items;
  }
  const passed: string[] = [];
  for await (const entry of requested.only(sent())) passed.push(`${entry.meta.path.toString()}${entry.isAboveSelection === true ? ' (above)' : ''}`);
  return passed;
}

const FOLDER = EntryType.ENTRY_TYPE_DIRECTORY;
const FILE = EntryType.ENTRY_TYPE_FILE;

test('folders above an --include are marked, the include and what is below it are not', async () => {
  const items = [item('/', FOLDER), item('/srv', FOLDER), item('/srv/app', FOLDER), item('/srv/app/sub', FOLDER), item('/srv/app/sub/a', FILE)];
  assert.deepEqual(await marks(new RequestedEntries([Buffer.from('/srv/app')], ''), items),
    ['/ (above)', '/srv (above)', '/srv/app', '/srv/app/sub', '/srv/app/sub/a']);
});

test('folders above a -r match are marked; a folder that matches itself is not', async () => {
  const items = [item('/', FOLDER), item('/srv', FOLDER), item('/srv/logs', FOLDER), item('/srv/x.log', FILE)];
  assert.deepEqual(await marks(new RequestedEntries([], 'log'), items), ['/ (above)', '/srv (above)', '/srv/logs', '/srv/x.log']);
});

test('a restore of everything marks nothing', async () => {
  const items = [item('/', FOLDER), item('/srv', FOLDER), item('/srv/a', FILE)];
  assert.deepEqual(await marks(new RequestedEntries([], ''), items), ['/', '/srv', '/srv/a']);
});
