// cpsbackup --diff A B and --find PATTERN: answered by the server from its catalog, printed as the
// results stream in (text with escaped names, or a JSON array, one element per line, with names' bytes in base64).
import type { NodeConfig } from '../common/config/node-config';
import { connectToServer } from '../client/connection';
import { diffBackups, findEntries, listBackups } from '../client/catalog-calls';
import { escapeBytes } from '../common/escape-bytes';
import { DiffKind, type BackupClient, type BackupSummary, type DiffEntry, type EntryMeta } from '../proto/cpsbackup';
import { entryJson, entryTypeName, formatBackupId, formatBytes, formatTime, incompleteJson, incompleteNoteLines } from './format';
import { printableJson } from './printable-json';

export interface TextSink {
  out(text: string): void;
  /** Resolves once what was written is taken by the reader (stdout's 'drain'); absent: nothing to wait for. */
  drained?(): Promise<void>;
}

const kindNames: Record<number, 'added' | 'removed' | 'changed'> = {
  [DiffKind.DIFF_KIND_ADDED]: 'added', [DiffKind.DIFF_KIND_REMOVED]: 'removed', [DiffKind.DIFF_KIND_CHANGED]: 'changed',
};
const kindMarks = { added: '+', removed: '-', changed: 'M' } as const;

/** A JSON array written element by element, so a large answer is never held whole. */
class JsonArrayWriter {
  private count = 0;

  constructor(private readonly sink: TextSink) {}

  push(value: unknown): void {
    this.sink.out(`${this.count === 0 ? '[\n' : ',\n'}  ${printableJson(value)}`);
    this.count++;
  }

  end(): void {
    this.sink.out(this.count === 0 ? '[]\n' : '\n]\n');
  }
}

function diffLine(kind: 'added' | 'removed' | 'changed', difference: DiffEntry): string {
  const entry = (difference.after ?? difference.before)!;
  const size = kind === 'changed' && difference.before!.size !== difference.after!.size
    ? `${difference.before!.size} -> ${difference.after!.size}` : String(entry.size);
  const changes = kind === 'changed' ? `  (${difference.changes.join(', ')})` : '';
  return `${kindMarks[kind]} ${entryTypeName(entry.type).padEnd(5)} ${size.padStart(12)}  ${escapeBytes(entry.path)}${changes}`;
}

/** The incomplete ones among the backups a listing reads (all kept ones when `ids` is undefined), oldest first. */
async function incompleteBackups(client: BackupClient, address: string, clientName: string, ids?: readonly number[]): Promise<BackupSummary[]> {
  const backups = await listBackups(client, address, clientName);
  return backups.filter((backup) => backup.unreadableFiles > 0 && (ids === undefined || ids.includes(backup.backupId)));
}

export async function doDiff(config: NodeConfig, fromBackupId: number, toBackupId: number, clientName: string | undefined,
  isJson: boolean, output: TextSink): Promise<void> {
  const client = connectToServer(config);
  const json = isJson ? new JsonArrayWriter(output) : undefined;
  const totals = { added: { count: 0, bytes: 0 }, removed: { count: 0, bytes: 0 }, changed: { count: 0, bytes: 0 } };
  let incomplete: BackupSummary[] = [];
  try {
    // First: a file unreadable when A or B was made is missing from it and shows as added or removed.
    incomplete = await incompleteBackups(client, `${config.server}:${config.port}`, clientName ?? '', [fromBackupId, toBackupId]);
    for (const backup of incomplete) json?.push(incompleteJson(backup));
    await diffBackups(client, `${config.server}:${config.port}`, fromBackupId, toBackupId, clientName ?? '', async (difference) => {
      const kind = kindNames[difference.kind];
      if (kind === undefined) return;
      await output.drained?.();
      const entry = (difference.after ?? difference.before)!;
      totals[kind].count++;
      totals[kind].bytes += kind === 'changed' ? difference.after!.size - difference.before!.size : entry.size;
      if (json === undefined) {
        output.out(`${diffLine(kind, difference)}\n`);
        return;
      }
      json.push({
        change: kind, path: escapeBytes(entry.path), pathBase64: entry.path.toString('base64'), changes: difference.changes,
        before: difference.before ? entryJson(difference.before) : null, after: difference.after ? entryJson(difference.after) : null,
      });
    });
  } finally {
    client.close();
  }
  if (json !== undefined) {
    json.end();
    return;
  }
  for (const backup of incomplete) output.out(incompleteNoteLines(backup).map((line) => `${line}\n`).join(''));
  const { added, removed, changed } = totals;
  const signed = (bytes: number): string => `${bytes < 0 ? '-' : '+'}${formatBytes(Math.abs(bytes))}`;
  output.out(`Backup ${formatBackupId(fromBackupId)} -> ${formatBackupId(toBackupId)}: ${added.count} added (${formatBytes(added.bytes)}), `
    + `${removed.count} removed (${formatBytes(removed.bytes)}), ${changed.count} changed (${signed(changed.bytes)})\n`);
}

function findLine(backupId: number, entry: EntryMeta): string {
  return `${formatBackupId(backupId)} ${entryTypeName(entry.type).padEnd(5)} ${String(entry.size).padStart(12)} ${formatTime(entry.mtimeSec * 1000)} ${escapeBytes(entry.path)}`;
}

export async function doFind(config: NodeConfig, pattern: string, clientName: string | undefined, isJson: boolean, output: TextSink): Promise<void> {
  const client = connectToServer(config);
  const json = isJson ? new JsonArrayWriter(output) : undefined;
  const backups = new Set<number>();
  let matches = 0;
  let incomplete: BackupSummary[] = [];
  try {
    incomplete = await incompleteBackups(client, `${config.server}:${config.port}`, clientName ?? '');
    for (const backup of incomplete) json?.push(incompleteJson(backup));
    await findEntries(client, `${config.server}:${config.port}`, pattern, clientName ?? '', async ({ backupId, entry }) => {
      if (entry === undefined) return;
      await output.drained?.();
      matches++;
      backups.add(backupId);
      if (json === undefined) output.out(`${findLine(backupId, entry)}\n`);
      else json.push({ backup: backupId, ...entryJson(entry) });
    });
  } finally {
    client.close();
  }
  if (json !== undefined) {
    json.end();
    return;
  }
  for (const backup of incomplete) output.out(incompleteNoteLines(backup).map((line) => `${line}\n`).join(''));
  output.out(`${matches} ${matches === 1 ? 'entry matches' : 'entries match'} in ${backups.size} backup${backups.size === 1 ? '' : 's'}\n`);
}
