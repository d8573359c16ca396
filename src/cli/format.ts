// Text shapes the cpsbackup CLI prints: backup ids, times, sizes, one line per backup or entry.
import { dumpSourcesOf } from '../client/sources/source-identity';
import { BackupKind, EntryType, type BackupSummary, type EntryMeta } from '../proto/cpsbackup';
import { escapeBytes } from '../common/escape-bytes';
import { formatBackupId } from '../common/backup-id';
import { escapeLineBreaking, shown } from '../common/config/display';

export { formatBackupId } from '../common/backup-id';

/** Local time as burp prints it: 2026-11-23 14:30:25. */
export function formatTime(milliseconds: number): string {
  const date = new Date(milliseconds);
  if (Number.isNaN(date.getTime())) return `@${Math.floor(milliseconds / 1000)}`;
  const two = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * `Backup: 0000003 2026-11-23 14:30:25 complete (deletable)`, with `dumps: shop, crm` when it holds dumps (which
 * backups can bring a database back was seen only in -s), `incomplete: N unreadable files` and `protected` when so.
 */
export function formatBackupLine(backup: BackupSummary): string {
  const kind = backup.kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete';
  const sources = dumpSourcesOf(backup.labels);
  const notes = [
    ...(sources.length > 0 ? [`dumps: ${sources.join(', ')}`] : []),
    ...(backup.unreadableFiles > 0 ? [`incomplete: ${backup.unreadableFiles} unreadable file${backup.unreadableFiles === 1 ? '' : 's'}`] : []),
    ...(backup.isProtected ? ['protected'] : []),
    ...(backup.deletable ? ['deletable'] : []),
  ];
  return `Backup: ${formatBackupId(backup.backupId)} ${formatTime(backup.finishedAtMs || backup.startedAtMs)} ${kind}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

const typeNames: Record<number, string> = {
  [EntryType.ENTRY_TYPE_FILE]: 'file',
  [EntryType.ENTRY_TYPE_DIRECTORY]: 'dir',
  [EntryType.ENTRY_TYPE_SYMLINK]: 'link',
  [EntryType.ENTRY_TYPE_FIFO_CONTENT]: 'dump',
  [EntryType.ENTRY_TYPE_FIFO]: 'fifo',
  [EntryType.ENTRY_TYPE_CHAR_DEVICE]: 'char',
  [EntryType.ENTRY_TYPE_BLOCK_DEVICE]: 'block',
  [EntryType.ENTRY_TYPE_SOCKET]: 'sock',
};

export function entryTypeName(type: EntryType): string {
  return typeNames[type] ?? 'unknown';
}

/** One line per entry; names escaped (escape-bytes.ts) so a newline or an invalid byte can never forge a line. */
export function formatEntryLine(entry: EntryMeta): string {
  const mode = entry.mode.toString(8).padStart(4, '0');
  const target = entry.type === EntryType.ENTRY_TYPE_SYMLINK ? ` -> ${escapeBytes(entry.linkTarget)}`
    : entry.hardlinkTarget.length > 0 ? ` => ${escapeBytes(entry.hardlinkTarget)}` : '';
  // Names as the client's passwd gave them, restored by name: escaped here, where a line feed would forge a line.
  const owner = `${entry.user ? shown(entry.user) : entry.uid}:${entry.group ? shown(entry.group) : entry.gid}`;
  return `${entryTypeName(entry.type).padEnd(5)} ${mode} ${owner.padEnd(15)} ${String(entry.size).padStart(12)} ${formatTime(entry.mtimeSec * 1000)} ${escapeBytes(entry.path)}${target}`;
}

/** A time as ISO 8601, or as epoch seconds past the years a Date holds (±275,760; btrfs stores any int64). */
function isoTime(milliseconds: number): string {
  const date = new Date(milliseconds);
  return Number.isNaN(date.getTime()) ? `@${Math.floor(milliseconds / 1000)}` : date.toISOString();
}

/**
 * path: the escaped text; pathBase64: the exact bytes. mtimeNs: seconds and nanoseconds joined as a
 * number, not as text: before 1970 -1 s + 500,000,000 ns is -500000000, where the text gave -1500000000.
 */
export function entryJson(entry: EntryMeta): Record<string, unknown> {
  return {
    path: escapeBytes(entry.path), pathBase64: entry.path.toString('base64'), type: entryTypeName(entry.type),
    mode: entry.mode.toString(8).padStart(4, '0'), size: entry.size,
    mtime: isoTime(entry.mtimeSec * 1000 + Math.floor(entry.mtimeNsec / 1e6)), mtimeNs: String(BigInt(entry.mtimeSec) * 1_000_000_000n + BigInt(entry.mtimeNsec)),
    uid: entry.uid, gid: entry.gid, user: entry.user, group: entry.group, nlink: entry.nlink,
    ...(entry.type === EntryType.ENTRY_TYPE_SYMLINK ? { linkTarget: escapeBytes(entry.linkTarget), linkTargetBase64: entry.linkTarget.toString('base64') } : {}),
    ...(entry.rdev ? { rdev: entry.rdev } : {}),
    ...(entry.extents.length > 0 ? { sparse: true } : {}),
    ...(entry.xattrs.length > 0 ? { xattrs: entry.xattrs.map((xattr) => escapeBytes(xattr.name)) } : {}),
  };
}

export function backupJson(backup: BackupSummary): Record<string, unknown> {
  return {
    id: backup.backupId, name: formatBackupId(backup.backupId), kind: backup.kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete',
    startedAt: new Date(backup.startedAtMs).toISOString(), finishedAt: backup.finishedAtMs ? new Date(backup.finishedAtMs).toISOString() : null,
    files: backup.files, logicalBytes: backup.logicalBytes, newBytes: backup.newBytes, storedBytes: backup.storedBytes,
    deletable: backup.deletable, hostname: backup.hostname, labels: backup.labels,
    isComplete: backup.unreadableFiles === 0, unreadableFiles: backup.unreadableFiles, isProtected: backup.isProtected,
  };
}

/**
 * A backup's labels on one line, `key=value` with each escaped (a server before the labels were cleaned
 * on receipt passes on whatever a client sent); the warnings by count, --json has them.
 */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels).map(([key, value]) => (key === 'warnings'
    ? `warnings=${value.split('\n').length}` : `${escapeLineBreaking(key)}=${escapeLineBreaking(JSON.stringify(value).slice(1, -1))}`)).join(' ');
}

/** A backup's warnings label (unreadable files first, `PATH: reason`), one escaped line each; none when it has none. */
export function warningLines(backup: BackupSummary): string[] {
  const warnings = backup.labels.warnings;
  return warnings ? warnings.split('\n').map((line) => escapeLineBreaking(line)) : [];
}

/**
 * What a listing over an incomplete backup says before its totals: files unreadable when it was made are
 * missing from it, so --diff shows them removed (or added) and --find does not find them there.
 */
export function incompleteNoteLines(backup: BackupSummary): string[] {
  const count = backup.unreadableFiles;
  return [`note: backup ${formatBackupId(backup.backupId)} is incomplete: ${count} file${count === 1 ? '' : 's'} could not be read when it was made `
    + `and ${count === 1 ? 'is' : 'are'} missing from it (not gone from the disk); its warnings:`, ...warningLines(backup).map((line) => `  ${line}`)];
}

export function incompleteJson(backup: BackupSummary): Record<string, unknown> {
  return { incomplete: { backup: backup.backupId, unreadableFiles: backup.unreadableFiles, warnings: warningLines(backup) } };
}
