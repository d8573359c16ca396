// What a restore of part of a backup (--include paths, a -r pattern) asked for and found nothing of:
// a path spelled otherwise than the backup holds it, a typo, a pattern that matches nothing. Reported
// (exit 3), never a restore of 0 files that exits 0 as if all asked for were back.
import { escapeBytes } from '../common/escape-bytes';
import { formatBackupId } from '../common/backup-id';

const SLASH = 0x2f;

export class SelectionCheck {
  readonly paths: Buffer[];
  /** Latin1 keys of the paths nothing has matched yet. */
  private readonly waiting = new Map<string, Buffer>();
  private entries = 0;

  constructor(paths: readonly (string | Buffer)[], private readonly pathRegex: string) {
    this.paths = paths.map((path) => (typeof path === 'string' ? Buffer.from(path) : path));
    for (const path of this.paths) this.waiting.set(path.toString('latin1'), path);
  }

  /**
   * An entry the server sent: the entry a path names, something below it, or a folder above a match.
   * A path is matched by the entry itself or one of the folders above it, looked up: a receiver asks
   * for many paths, and once all are matched an entry costs nothing.
   */
  saw(path: Buffer): void {
    this.entries++;
    if (this.waiting.size === 0) return;
    this.waiting.delete('/'); // "/" holds everything
    for (let end = path.length; end > 0; end = path.lastIndexOf(SLASH, end - 1)) {
      this.waiting.delete(path.toString('latin1', 0, end));
    }
  }

  /** One message per path or pattern that matched nothing in the backup. */
  unmatched(backupId: number): string[] {
    const backup = `backup ${formatBackupId(backupId)}`;
    const what = this.pathRegex === '' ? 'nothing at or below this path' : `nothing at or below this path matches -r ${JSON.stringify(this.pathRegex)}`;
    const messages = [...this.waiting.values()].map((path) => `${escapeBytes(path)}: not in ${backup} (${what}; --include takes the path as -s lists it)`);
    // Folders above a match are sent only with it: no entry at all means the pattern matched nothing.
    if (this.pathRegex !== '' && this.entries === 0) messages.push(`-r ${JSON.stringify(this.pathRegex)}: no path in ${backup} matches it`);
    return messages;
  }
}
