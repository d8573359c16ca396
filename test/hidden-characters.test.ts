// Regression (security review): each place that shows a client's text escaped its own set of characters.
// `--json` left C1 controls and bidi overrides raw in owner names, hostnames and labels (JSON.stringify
// escapes C0 only), and the shared set knew U+202A-E and U+2066-9 but not the bidi marks (U+200E, U+200F,
// U+061C), zero-width spaces or tags. One rule (hidden-characters.ts) now serves every field; this table
// of hostile characters is run through each of them, on the server and in the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackupKind, EntryMeta, EntryType, type BackupSummary } from '../src/proto/cpsbackup';
import { backupJson, entryJson, formatEntryLine, formatLabels } from '../src/cli/format';
import { printableJson } from '../src/cli/printable-json';
import { escapeBytes } from '../src/common/escape-bytes';
import { HIDDEN_CHARACTERS, isHiddenCodePoint } from '../src/common/hidden-characters';
import { escapeLineBreaking, shown, shownLines } from '../src/common/config/display';
import { createLogger } from '../src/common/logger';
import { receivedBegin, shownBackupText } from '../src/server/received-begin';
import { receivedAbortReason, receivedWarnings } from '../src/server/received-text';

const HOSTILE: ReadonlyArray<readonly [string, string]> = [
  ['NUL', '\u0000'], ['BEL', '\u0007'], ['ESC', '\u001b'], ['LF', '\n'], ['CR', '\r'], ['DEL', '\u007f'],
  ['NEL (C1)', '\u0085'], ['CSI (C1)', '\u009b'], ['OSC (C1)', '\u009d'],
  ['LRM', '\u200e'], ['RLM', '\u200f'], ['ALM', '\u061c'],
  ['LRE', '\u202a'], ['RLE', '\u202b'], ['PDF', '\u202c'], ['LRO', '\u202d'], ['RLO', '\u202e'],
  ['LRI', '\u2066'], ['RLI', '\u2067'], ['FSI', '\u2068'], ['PDI', '\u2069'],
  ['LINE SEPARATOR', '\u2028'], ['PARAGRAPH SEPARATOR', '\u2029'], ['BOM', '\ufeff'],
  ['ZERO WIDTH SPACE', '\u200b'], ['WORD JOINER', '\u2060'], ['SOFT HYPHEN', '\u00ad'], ['TAG', '\u{e0001}'],
];

/** The text holds no character of the table; `allowLineFeeds` for texts of several lines (indented JSON). */
function assertNothingHidden(text: string, where: string, allowLineFeeds = false): void {
  for (const [name, character] of HOSTILE) {
    if (allowLineFeeds && character === '\n') continue;
    assert.ok(!text.includes(character), `${where}: ${name} (U+${character.codePointAt(0)!.toString(16)}) shown raw in ${JSON.stringify(text)}`);
  }
}

function entryOf(character: string, type: EntryType): EntryMeta {
  return EntryMeta.fromPartial({
    path: Buffer.from(`/srv/a${character}b`), type, mode: 0o644, size: 1,
    linkTarget: Buffer.from(`target${character}`), hardlinkTarget: Buffer.from(type === EntryType.ENTRY_TYPE_FILE ? `/srv/first${character}` : ''),
    user: `user${character}`, group: `group${character}`, xattrs: [{ name: Buffer.from(`user.x${character}`), value: Buffer.from('v') }],
  });
}

function summaryOf(character: string): BackupSummary {
  return {
    backupId: 3, startedAtMs: 0, finishedAtMs: 0, files: 1, logicalBytes: 0, newBytes: 0, storedBytes: 0,
    kind: BackupKind.BACKUP_KIND_COMPLETE, deletable: false, unreadableFiles: 0, isProtected: false,
    hostname: `host${character}`, labels: { [`key${character}`]: `value${character}`, warnings: `/a${character}: unreadable` },
  };
}

for (const [name, character] of HOSTILE) {
  test(`${name}: every field a client chose is shown escaped, in plain text and in --json`, () => {
    // The CLI's plain output.
    assertNothingHidden(formatLabels({ [`key${character}`]: `value${character}` }), 'formatLabels');
    for (const type of [EntryType.ENTRY_TYPE_FILE, EntryType.ENTRY_TYPE_SYMLINK]) {
      assertNothingHidden(formatEntryLine(entryOf(character, type)), `formatEntryLine of a ${type === EntryType.ENTRY_TYPE_FILE ? 'hard link' : 'symlink'}`);
    }
    assertNothingHidden(escapeBytes(Buffer.from(`/p${character}`)), 'escapeBytes');

    // --json: nothing raw, and a parser reads back the exact text the client chose.
    const entryText = printableJson(entryJson(entryOf(character, EntryType.ENTRY_TYPE_SYMLINK)), 2);
    assertNothingHidden(entryText, 'entryJson', true);
    const entry = JSON.parse(entryText) as Record<string, unknown>;
    assert.equal(entry.user, `user${character}`);
    assert.equal(entry.group, `group${character}`);
    const summaryText = printableJson({ backup: backupJson(summaryOf(character)), entries: [] }, 2);
    assertNothingHidden(summaryText, 'backupJson', true);
    assert.deepEqual((JSON.parse(summaryText) as { backup: unknown }).backup, backupJson(summaryOf(character)));

    // The server: what it keeps, shows from old rows, logs.
    const kept = receivedBegin('node1', { kind: BackupKind.BACKUP_KIND_COMPLETE, parentBackupId: 0, isScheduled: false, hostname: `host${character}`, clientVersion: `1.0${character}`,
      labels: { [`key${character}`]: `value${character}` } });
    assertNothingHidden(kept.hostname, 'receivedBegin hostname');
    for (const [key, value] of Object.entries(kept.labels)) assertNothingHidden(`${key}=${value}`, 'receivedBegin labels');
    const old = shownBackupText(`host${character}`, { [`key${character}`]: `value${character}` });
    assertNothingHidden(old.hostname, 'shownBackupText hostname');
    for (const [key, value] of Object.entries(old.labels)) assertNothingHidden(`${key}=${value}`, 'shownBackupText labels');
    for (const warning of receivedWarnings([`/a${character}: unreadable`])) assertNothingHidden(warning, 'receivedWarnings');
    assertNothingHidden(receivedAbortReason(`dump failed${character}`), 'receivedAbortReason', true);
    assertNothingHidden(shown(`x${character}`), 'shown');
    assertNothingHidden(shownLines(`x${character}`, 100), 'shownLines', true);
    const lines: string[] = [];
    createLogger('server', (line) => { lines.push(line); }).warn(`client node1: ${character}`);
    assertNothingHidden(lines[0].slice(0, -1), 'the log line');
  });
}

test('the joiners that spell words and emoji are kept; escapes read one way', () => {
  const family = '\u{1f468}\u200d\u{1f469}\u200d\u{1f467}';
  const persian = 'می\u200cخواهم';
  assert.equal(escapeBytes(Buffer.from(`/photos/${family}/${persian}`)), `/photos/${family}/${persian}`);
  assert.equal(shown(persian), persian);
  assert.equal(escapeLineBreaking('a\u0085b\u200ec\u{e0001}d'), 'a\\x85b\\u200ec\\u{e0001}d');
  assert.equal(escapeBytes(Buffer.from('a\u200eb')), 'a\\xe2\\x80\\x8eb');
  assert.equal(printableJson({ name: 'a\u0085\u202e\u{e0001}' }), '{"name":"a\\u0085\\u202e\\udb40\\udc01"}');
  // The longest escape (an astral character, `\u{e0001}`) does not make a row kept now be cut when shown.
  const kept = receivedBegin('node1', { kind: BackupKind.BACKUP_KIND_COMPLETE, parentBackupId: 0, isScheduled: false, clientVersion: '',
    hostname: '\u{e0001}'.repeat(1000), labels: { ['\u{e0001}'.repeat(256)]: '\u{e0001}'.repeat(16 * 1024) } });
  assert.deepEqual(shownBackupText(kept.hostname, kept.labels), kept);
});

test('isHiddenCodePoint\'s shortcuts agree with the rule at every code point', () => {
  const rule = new RegExp(`^${HIDDEN_CHARACTERS.source}$`, 'u');
  for (let codePoint = 0; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
    const isHidden = rule.test(String.fromCodePoint(codePoint));
    if (isHiddenCodePoint(codePoint) !== isHidden) assert.fail(`U+${codePoint.toString(16)}: ${isHidden ? 'hidden' : 'shown'} by the rule, not by isHiddenCodePoint`);
  }
});
