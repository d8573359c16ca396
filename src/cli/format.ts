// Text shapes the cpsbackup CLI prints: backup ids, times, sizes, one line per backup or entry.
import { BackupKind, EntryType, type BackupSummary, type EntryMeta } from '../proto/cpsbackup';

export function formatBackupId(id: number): string {
  return String(id).padStart(7, '0');
}

/** Local time as burp prints it: 2026-11-23 14:30:25. */
export function formatTime(milliseconds: number): string {
  const date = new Date(milliseconds);
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

export function formatBackupLine(backup: BackupSummary): string {
  const kind = backup.kind === BackupKind.BACKUP_KIND_PARTIAL ? ' partial' : '';
  return `Backup: ${formatBackupId(backup.backupId)} ${formatTime(backup.finishedAtMs || backup.startedAtMs)}${kind}${backup.deletable ? ' (deletable)' : ''}`;
}

const typeNames: Record<number, string> = {
  [EntryType.ENTRY_TYPE_FILE]: 'file',
  [EntryType.ENTRY_TYPE_DIRECTORY]: 'dir',
  [EntryType.ENTRY_TYPE_SYMLINK]: 'link',
  [EntryType.ENTRY_TYPE_FIFO_CONTENT]: 'dump',
};

export function entryTypeName(type: EntryType): string {
  return typeNames[type] ?? 'unknown';
}

export function formatEntryLine(entry: EntryMeta): string {
  const mode = entry.mode.toString(8).padStart(4, '0');
  const target = entry.type === EntryType.ENTRY_TYPE_SYMLINK ? ` -> ${entry.linkTarget}` : '';
  return `${entryTypeName(entry.type).padEnd(4)} ${mode} ${String(entry.size).padStart(12)} ${formatTime(entry.mtimeSec * 1000)} ${entry.path}${target}`;
}

export function entryJson(entry: EntryMeta): Record<string, unknown> {
  return {
    path: entry.path, type: entryTypeName(entry.type), mode: entry.mode.toString(8).padStart(4, '0'), size: entry.size,
    mtime: new Date(entry.mtimeSec * 1000 + Math.floor(entry.mtimeNsec / 1e6)).toISOString(), uid: entry.uid, gid: entry.gid,
    ...(entry.type === EntryType.ENTRY_TYPE_SYMLINK ? { linkTarget: entry.linkTarget } : {}),
  };
}

export function backupJson(backup: BackupSummary): Record<string, unknown> {
  return {
    id: backup.backupId, name: formatBackupId(backup.backupId), kind: backup.kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete',
    startedAt: new Date(backup.startedAtMs).toISOString(), finishedAt: backup.finishedAtMs ? new Date(backup.finishedAtMs).toISOString() : null,
    files: backup.files, logicalBytes: backup.logicalBytes, newBytes: backup.newBytes, storedBytes: backup.storedBytes,
    deletable: backup.deletable, hostname: backup.hostname, labels: backup.labels,
  };
}
