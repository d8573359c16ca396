// A name the walk listed that is gone when it is read (its lstat, or its open or attributes by name)
// is reported "vanished during the backup" (exit 3), unless the same file was walked in another place
// after that: a Maildir message moved from new/ to cur/, a file renamed into a folder the walk reached
// later or a look at the walk's end listed again. It is in the backup then, and the report was a false
// alarm, every night on a mail server.
//
// "The same file" is proven, not guessed from an inode number: a number a deleted file frees is soon
// given to a file made later (ext4 gave one straight back: the review of 4988987, reverted). The entry
// walked later has the number the name showed, on the same device; it was walked after the name showed
// it; and it was born (statx btime) before that: an inode alive both before and after the moment the
// name showed its number is the inode the name pointed to. Where the file system keeps no birth time, or
// stamps it from another machine's clock (network file systems), nothing is proven and the report stays.
// Only entries changed since the backup began are asked their birth time: a rename changes an inode's
// ctime, and a quiet tree pays one comparison an entry.
import { statfsSync } from 'node:fs';
import { birthTimeAt, statFd, type Name, type PosixStat } from './posix/at';
import { escapeBytes } from '../common/escape-bytes';

/**
 * Local file systems whose birth times come from this machine's clock: ext2/3/4, XFS, Btrfs, tmpfs,
 * F2FS, overlayfs, ZFS, bcachefs. FAT keeps local time in 10 ms steps and made-up inode numbers.
 */
const TRUSTED_BIRTH_TIMES: ReadonlySet<number> = new Set([0xef53, 0x58465342, 0x9123683e, 0x01021994, 0xf2f52010, 0x794c7630, 0x2fc12fc1, 0xca451a4e]);

/**
 * The kernel stamps birth times from a coarse clock (a tick of 1-10 ms behind the time Date.now()
 * reads): a file born just after a moment may carry a birth time just before it. One born this long
 * before is born before.
 */
const BIRTH_MARGIN_NS = 50_000_000n;

/** How long before the walk began a ctime counts as changed during the backup (the same coarse clock, and room to spare). */
const CHANGED_MARGIN_NS = 1_000_000_000n;

/** An entry walked after it changed during the backup: when it was born, and the walk's step that reached it last. */
interface ChangedEntry {
  readonly bornNs: bigint;
  readonly step: number;
  readonly path: Buffer;
}

/** A name gone when read: the inode number it showed, when (ms, read before), and the walk's step it showed it at. */
interface VanishedName {
  readonly shownPath: string;
  readonly key: string;
  readonly shownAtMs: number;
  readonly shownAtStep: number;
}

export class MovedEntries {
  private step = 0;
  private readonly changedSinceNs: bigint;
  private readonly changed = new Map<string, ChangedEntry>();
  private readonly vanished: VanishedName[] = [];
  /** Per device: whether its birth times are trusted (see TRUSTED_BIRTH_TIMES). */
  private readonly trustedDevices = new Map<bigint, boolean>();

  constructor(walkStartMs: number) {
    this.changedSinceNs = BigInt(walkStartMs) * 1_000_000n - CHANGED_MARGIN_NS;
  }

  /** The step of the entry walked last: a name shown after this one is shown after every entry walked so far. */
  get currentStep(): number {
    return this.step;
  }

  /** Counts an entry walked (in the backup, by the path given) and returns its step; dirfd and name reach it, not following a symlink. */
  walked(dirfd: number, name: Name, stats: PosixStat, path: Buffer): number {
    const step = ++this.step;
    if (stats.ctimeNs < this.changedSinceNs || !this.isTrusted(dirfd, stats.dev)) return step;
    let bornNs: bigint | undefined;
    try {
      bornNs = birthTimeAt(dirfd, name);
    } catch {
      return step;
    }
    if (bornNs !== undefined) this.changed.set(keyOf(stats.dev, stats.ino), { bornNs, step, path });
    return step;
  }

  /**
   * A name gone when it was read, which showed this inode number (d_ino, or an lstat) on this device at
   * shownAtStep, no earlier than shownAtMs: reported at settle() unless walked elsewhere since.
   */
  nameVanished(shownPath: string, dev: bigint, ino: bigint, shownAtMs: number, shownAtStep: number): void {
    this.vanished.push({ shownPath, key: keyOf(dev, ino), shownAtMs, shownAtStep });
  }

  /**
   * Reports each vanished name not found walked elsewhere (call when no more entries are walked, the
   * looks included) and returns the warning for those that were, if any.
   */
  settle(onVanished: (path: string) => void): string | undefined {
    const moved: { from: string; to: Buffer }[] = [];
    for (const name of this.vanished) {
      const entry = this.changed.get(name.key);
      if (entry !== undefined && entry.step > name.shownAtStep && entry.bornNs < BigInt(name.shownAtMs) * 1_000_000n - BIRTH_MARGIN_NS) {
        moved.push({ from: name.shownPath, to: entry.path });
      } else {
        onVanished(name.shownPath);
      }
    }
    this.vanished.length = 0;
    if (moved.length === 0) return undefined;
    const example = `${moved[0].from} read as ${escapeBytes(moved[0].to)}`;
    return `${moved.length} ${moved.length === 1 ? 'entry' : 'entries'} moved during the backup from where the walk listed `
      + `${moved.length === 1 ? 'it' : 'them'} (${example}${moved.length > 1 ? ', …' : ''}): in this backup in the new place`;
  }

  /** Whether the entry's device (that of the folder dirfd holds: a mount point's is another, and is not trusted) keeps trusted birth times. */
  private isTrusted(dirfd: number, dev: bigint): boolean {
    const known = this.trustedDevices.get(dev);
    if (known !== undefined) return known;
    let trusted: boolean;
    try {
      if (statFd(dirfd).dev !== dev) return false;
      trusted = TRUSTED_BIRTH_TIMES.has(statfsSync(`/proc/self/fd/${dirfd}`).type);
    } catch {
      return false;
    }
    this.trustedDevices.set(dev, trusted);
    return trusted;
  }
}

function keyOf(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}
