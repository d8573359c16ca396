// A name the walk listed that is gone when it is read (its lstat, or its open or attributes by name)
// is reported "vanished during the backup" (exit 3), unless the same file was read in another place
// after that: a Maildir message moved from new/ to cur/, a file renamed into a folder the walk reached
// later or a look at the walk's end listed again. It is in the backup then, and the report was a false
// alarm, every night on a mail server.
//
// "The same file" is proven, not guessed from an inode number: a number a deleted file frees is soon
// given to a file made later (ext4 gave one straight back: the review of 4988987, reverted). An entry
// read into the backup (its content or attributes, as the inode the walk found: confirmed by the
// sender, not by the walk's lstat) has the number the name showed, on the same device; it was walked
// after the name showed it; and it was born (statx btime) before that: an inode alive both before and
// after the moment the name showed its number is the inode the name pointed to. Nothing is proven, and
// the report stays, where the file system keeps no birth time or stamps it from another machine's clock
// (network file systems), where a folder's listing may show another number than the entry's own (btrfs
// gives a subvolume its id), where one number may name two live files (tmpfs's 32-bit numbers wrap), and
// once the wall clock has stepped back during the backup (the birth times and the walk's times are
// wall-clock times). A folder with something under it left out at its new path proves its old name only
// where the same rules leave that out under the old name too (an exclude_regex /node_modules$/ matches
// at both); one an include walked on its own, or the looks had read elsewhere, left out proves nothing.
// A folder's proof rests on what was walked under its new path; a name that vanished there and was itself
// proven only with such exclusions was judged against that new path, not the folder's old one (a folder
// moved twice: its old-old path may not have excluded them), so it makes every folder around it prove
// nothing, and so does a name below it reported for that reason. What left a folder before its new path
// was listed is not part of it as read, as for a folder that did not move. Only entries changed since the
// backup began are asked their birth time (and only under such a folder are exclusions kept): a rename
// changes an inode's ctime, and a quiet tree pays one comparison an entry. The file proven read may be
// another link of the one gone (a link deleted): its content is in the backup.
import { performance } from 'node:perf_hooks';
import { birthAt, fileSystemTypeOf, statFd, type Name, type PosixStat } from './posix/at';
import { mountPoints } from './posix/mount-points';
import { escapeBytes } from '../common/escape-bytes';
import { ExcludedPaths, type ExcludedRange } from './excluded-paths';

const EXT = 0xef53;
const XFS = 0x58465342;
const F2FS = 0xf2f52010;
const BTRFS = 0x9123683e;

/**
 * Local file systems whose birth times come from this machine's clock when the inode is made (no call
 * sets one) and whose inode numbers name one live inode each on a device. Not tmpfs: mounted without
 * inode64 its numbers come from a 32-bit counter shared with pipes and sockets, which wraps. Not ZFS:
 * `zfs receive` keeps the numbers and birth times the sending machine gave. Not bcachefs: a snapshot's
 * file has the original's device and inode number. FAT keeps local time in 10 ms steps and made-up numbers.
 */
export const TRUSTED_BIRTH_TIMES: ReadonlySet<number> = new Set([EXT, XFS, F2FS, BTRFS]);

/**
 * File systems whose folder listings give each name its entry's own inode number (d_ino = st_ino).
 * Not btrfs nor bcachefs (a subvolume is listed by its id, an ordinary inode number of the folder's
 * own subvolume), nor overlayfs (a lower layer's numbers may be listed raw).
 */
export const LISTED_NUMBERS_ARE_OWN: ReadonlySet<number> = new Set([EXT, XFS, F2FS]);

/**
 * The kernel stamps birth times from a coarse clock (a tick of 1-10 ms behind the time Date.now()
 * reads): a file born just after a moment may carry a birth time just before it. One born this long
 * before is born before.
 */
const BIRTH_MARGIN_NS = 50_000_000n;

/** How long before the walk began a ctime counts as changed during the backup (the same coarse clock, and room to spare). */
const CHANGED_MARGIN_NS = 1_000_000_000n;

/** How far the wall clock may seem to move back against the monotonic one before no proof holds (two readings are not one instant). */
const CLOCK_STEP_TOLERANCE_MS = 20;

/**
 * Path bytes asked of the walk's rules under old names when the walk ends (a folder moved through 300
 * others, 10,000 names excluded in it, took 1.3 s; a check costs about 1 ns a byte): past them, a folder
 * with exclusions proves nothing.
 */
const MOST_EXCLUSION_CHECK_BYTES = 256 * 1024 * 1024;
/** What a check costs beyond its path's bytes, counted against the same budget (20M checks of 13-byte paths took 6.7 s). */
const CHECK_OVERHEAD_BYTES = 64;

const SLASH = Buffer.from('/');

type NameProof = 'none' | 'proven' | 'proven with exclusions' | 'refused for exclusions';

/** Entries kept (about 150 bytes each): a backup that changes more files than this while it runs keeps its reports. */
const MOST_CHANGED = 250_000;

/** An entry read after it changed during the backup: when it was born, and the walk's step that reached it last. */
interface ChangedEntry {
  readonly bornNs: bigint;
  readonly step: number;
  /** A folder's: the paths under it left out at its new path by the walk's rules (in `excluded`), and that path's length with its '/'. */
  readonly leftOutBelow?: { readonly range: ExcludedRange; readonly prefixLength: number };
}

/** A folder whose names the walk is reading: the names gone meanwhile are under it, and under each of its parents. */
interface FolderFrame {
  readonly key: string;
  readonly parent: FolderFrame | undefined;
  /** It or a folder around it changed since the backup began: only such a folder may prove a move, so only there are exclusions kept. */
  readonly isInChanged: boolean;
}

/** A name gone when read: the inode number it showed (as dev:ino), when (ms, read before), and the walk's step it showed it at. */
interface VanishedName {
  /** Its bytes as latin1: a Buffer made by Buffer.concat is a view of a shared 8 KiB block, which keeping it would keep. */
  readonly path: string;
  readonly key: string;
  readonly shownAtMs: number;
  readonly shownAtStep: number;
  /** The folders being walked when it was gone (innermost first). */
  readonly within: FolderFrame | undefined;
}

export class MovedEntries {
  private step = 0;
  private readonly changedSinceNs: bigint;
  private readonly changed = new Map<string, ChangedEntry>();
  private readonly vanished: VanishedName[] = [];
  /** Per device, its file system's statfs type (the sets above say what each proves). */
  private readonly typeOfDevice = new Map<bigint, number | undefined>();
  /** The most the wall clock was seen ahead of the monotonic one: any reading below it by more than the tolerance is a step back. */
  private mostWallLeadMs: number;
  private hasClockSteppedBack = false;
  /**
   * What was mounted on at the start: a mount point's name is listed with the number of the folder it
   * covers, not of what the walk would have read there (a file system unmounted, its folder moved).
   */
  private readonly mountedOn = mountPoints();
  /** The walk's exclusions, for the folders' proofs: the walk notes each path its rules leave out. */
  readonly excluded = new ExcludedPaths();
  private folder: FolderFrame | undefined;

  constructor(walkStartMs: number) {
    this.changedSinceNs = BigInt(walkStartMs) * 1_000_000n - CHANGED_MARGIN_NS;
    this.mostWallLeadMs = wallLead().atLeast;
  }

  /** Date.now(), watched: every time a name's number is shown at is read here, so a step back after it is seen. */
  now(): number {
    const lead = wallLead();
    this.watchClock(lead);
    return lead.wall;
  }

  /** The next step of the walk: one per entry walked, in the order walked. */
  nextStep(): number {
    return ++this.step;
  }

  /** The step of the entry walked last: a name shown now is shown after every entry walked so far. */
  get currentStep(): number {
    return this.step;
  }

  /**
   * The entry walked at `step` (with this lstat) is in the backup as that inode: its content or
   * attributes were read from it. dirfd and name reach it (not following a symlink; name '' for dirfd itself).
   */
  read(dirfd: number, name: Name, stats: PosixStat, step: number): void {
    if (stats.ctimeNs < this.changedSinceNs || this.changed.size >= MOST_CHANGED) return;
    this.watchClock();
    if (!TRUSTED_BIRTH_TIMES.has(this.fileSystemOf(dirfd, name, stats.dev) ?? 0)) return;
    try {
      // By name, another inode may have taken the name since it was read: its birth says nothing of this one.
      const birth = birthAt(dirfd, name);
      if (birth.bornNs === undefined || birth.ino !== stats.ino || birth.dev !== stats.dev) return;
      this.changed.set(keyOf(stats.dev, stats.ino), { bornNs: birth.bornNs, step });
    } catch {
      // Gone again, or unreadable: nothing proven.
    }
  }

  /**
   * The folder read at `step` proves nothing after all: something under it was left out at its new path
   * that its old path may have held (an include walked on its own, a folder the looks read elsewhere).
   */
  withdraw(stats: PosixStat, step: number): void {
    const key = keyOf(stats.dev, stats.ino);
    if (this.changed.get(key)?.step === step) this.changed.delete(key);
  }

  /**
   * The folder read at `step`, at `path`, had these paths of `excluded` under it left out by the walk's
   * rules (exclude_regex): it proves an old name only if the rules leave each of them out under that name too.
   */
  leftOutBelow(stats: PosixStat, step: number, path: Buffer, range: ExcludedRange): void {
    const key = keyOf(stats.dev, stats.ino);
    const entry = this.changed.get(key);
    if (entry?.step !== step) return;
    this.changed.set(key, { ...entry, leftOutBelow: { range, prefixLength: path.length === 1 ? 1 : path.length + 1 } });
  }

  /** The walk reads the names of this folder from now until leaveFolder(). */
  enterFolder(stats: PosixStat): void {
    const isInChanged = (this.folder?.isInChanged ?? false) || stats.ctimeNs >= this.changedSinceNs;
    this.folder = { key: keyOf(stats.dev, stats.ino), parent: this.folder, isInChanged };
  }

  leaveFolder(): void {
    this.folder = this.folder?.parent;
  }

  /** A name the walk's rules left out: kept for the folders around it that changed since the backup began. */
  excludedHere(path: Buffer): void {
    if (this.folder?.isInChanged === true) this.excluded.note(path);
  }

  /**
   * A name a folder listed (the folder held open as folderFd) gone at its lstat: its listed number is
   * kept for settle() where the folder's file system lists names by their own numbers; false, and
   * nothing kept, where it does not (the caller reports the name now).
   */
  listedNameVanished(folderFd: number, folder: PosixStat, path: Buffer, ino: bigint, shownAtMs: number, shownAtStep: number): boolean {
    if (!LISTED_NUMBERS_ARE_OWN.has(this.fileSystemOf(folderFd, '', folder.dev) ?? 0)) return false;
    const latin1 = path.toString('latin1');
    if (this.mountedOn.has(latin1)) return false;
    this.keepVanished(latin1, folder.dev, ino, shownAtMs, shownAtStep);
    return true;
  }

  /**
   * A name gone when it was read, which showed this inode number (an lstat's) on this device at
   * shownAtStep, no earlier than shownAtMs: reported at settle() unless read elsewhere since.
   */
  nameVanished(path: Buffer, dev: bigint, ino: bigint, shownAtMs: number, shownAtStep: number): void {
    this.keepVanished(path.toString('latin1'), dev, ino, shownAtMs, shownAtStep);
  }

  private keepVanished(path: string, dev: bigint, ino: bigint, shownAtMs: number, shownAtStep: number): void {
    this.watchClock();
    this.vanished.push({ path, key: keyOf(dev, ino), shownAtMs, shownAtStep, within: this.folder });
  }

  /**
   * Reports each vanished name not proven read elsewhere (call when no more entries are read, the
   * looks' included) and returns the warning for those that were, if any. isLeftOut: whether the walk's
   * rules leave a path out (a moved folder's exclusions are checked against its old name).
   */
  settle(onVanished: (path: string) => void, isLeftOut: (path: Buffer) => boolean = () => false): string | undefined {
    this.watchClock();
    const budget = { bytes: MOST_EXCLUSION_CHECK_BYTES };
    const proofs = this.vanished.map((name) => this.proofOf(name, isLeftOut, budget));
    const isProven = proofs.map((proof) => proof === 'proven' || proof === 'proven with exclusions');
    // A folder around a name whose exclusions were asked (proven with them, or refused for them) proves
    // nothing (see the top of this file), at any of its walks: one walked again after that name left it
    // (moved on once more) proves its first name without the content the name took along. A proven name
    // that voids is reported for what it held: the folders around it prove nothing either, up to the
    // first name moved. Each frame and each name is taken once.
    const namesOf = new Map<string, number[]>();
    this.vanished.forEach((name, index) => {
      if (!isProven[index]) return;
      const indexes = namesOf.get(name.key);
      if (indexes === undefined) namesOf.set(name.key, [index]);
      else indexes.push(index);
    });
    const unsound = new Set<string>();
    const tainted = new Set<FolderFrame>();
    const pending: string[] = [];
    const taint = (name: VanishedName): void => {
      for (let frame = name.within; frame !== undefined && !tainted.has(frame); frame = frame.parent) {
        tainted.add(frame);
        if (unsound.has(frame.key)) continue;
        unsound.add(frame.key);
        pending.push(frame.key);
      }
    };
    this.vanished.forEach((name, index) => {
      if (proofs[index] === 'proven with exclusions' || proofs[index] === 'refused for exclusions') taint(name);
    });
    for (let key = pending.pop(); key !== undefined; key = pending.pop()) {
      for (const index of namesOf.get(key) ?? []) {
        if (!isProven[index]) continue;
        isProven[index] = false;
        taint(this.vanished[index]);
      }
    }
    const moved: string[] = [];
    this.vanished.forEach((name, index) => {
      const shown = escapeBytes(Buffer.from(name.path, 'latin1'));
      if (isProven[index]) moved.push(shown);
      else onVanished(shown);
    });
    this.vanished.length = 0;
    this.changed.clear();
    if (moved.length === 0) return undefined;
    return `${moved.length} ${moved.length === 1 ? 'entry' : 'entries'} gone during the backup from where the walk listed `
      + `${moved.length === 1 ? 'it' : 'them'} (${moved[0]}${moved.length > 1 ? ', …' : ''}) read elsewhere: moved, or another link of the same file; in this backup there`;
  }

  /**
   * Whether an entry read elsewhere proves the name (before the folders around names are asked): with
   * exclusions the walk's rules leave out under the name too, or refused for one they do not (or past the budget).
   */
  private proofOf(name: VanishedName, isLeftOut: (path: Buffer) => boolean, budget: { bytes: number }): NameProof {
    const entry = this.hasClockSteppedBack ? undefined : this.changed.get(name.key);
    if (entry === undefined || entry.step <= name.shownAtStep || entry.bornNs >= BigInt(name.shownAtMs) * 1_000_000n - BIRTH_MARGIN_NS) return 'none';
    const below = entry.leftOutBelow;
    if (below === undefined) return 'proven';
    const oldName = Buffer.from(name.path, 'latin1');
    for (let position = below.range.start; position < below.range.end; position++) {
      const underOldName = Buffer.concat([oldName, SLASH, this.excluded.at(position).subarray(below.prefixLength)]);
      budget.bytes -= underOldName.length + CHECK_OVERHEAD_BYTES;
      if (budget.bytes < 0 || !isLeftOut(underOldName)) return 'refused for exclusions';
    }
    return 'proven with exclusions';
  }

  /**
   * A wall clock stepped back (NTP, a VM resumed) makes a birth time after a moment read as before it,
   * also a step forward then back (the moment read in between). Seen at each reading: the times compared
   * are read through now(), and each entry read and each name gone looks again.
   */
  private watchClock(lead = wallLead()): void {
    if (lead.atMost < this.mostWallLeadMs - CLOCK_STEP_TOLERANCE_MS) this.hasClockSteppedBack = true;
    if (lead.atLeast > this.mostWallLeadMs) this.mostWallLeadMs = lead.atLeast;
  }

  /**
   * The statfs type of the file system dirfd and name reach, when it is the device given (a mount
   * point's name is on the folder's file system, its inode on another), once a device.
   */
  private fileSystemOf(dirfd: number, name: Name, dev: bigint): number | undefined {
    if (this.typeOfDevice.has(dev)) return this.typeOfDevice.get(dev);
    let type: number | undefined;
    try {
      if (name !== '' && statFd(dirfd).dev !== dev) return undefined;
      type = fileSystemTypeOf(dirfd);
    } catch {
      return undefined;
    }
    this.typeOfDevice.set(dev, type);
    return type;
  }
}

function keyOf(dev: bigint, ino: bigint): string {
  return `${dev}:${ino}`;
}

/**
 * The wall clock's lead over the monotonic clock, as bounds: the process paused between two readings (a busy
 * machine: tens of milliseconds at a load of 14 on two cores) widens them and moves neither, where one
 * reading of each put the pause into the lead and took it for the wall clock stepping back, so every moved
 * file of the backup was reported vanished.
 */
function wallLead(): { readonly wall: number; readonly atLeast: number; readonly atMost: number } {
  const before = performance.now();
  const wall = Date.now();
  const after = performance.now();
  return { wall, atLeast: wall - after, atMost: wall - before };
}
