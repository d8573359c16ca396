// FIFOs, character and block devices and unix sockets, created relative to a held folder fd, and the
// device number as major:minor (what a backup records, so it means the same device elsewhere).
import { posixAddon } from './addon';

export type DeviceKind = 'char' | 'block';

export interface DeviceNumber {
  readonly major: number;
  readonly minor: number;
}

export function makeDeviceNumber(major: number, minor: number): bigint {
  return posixAddon().makedev(major, minor);
}

export function splitDeviceNumber(rdev: bigint | number): DeviceNumber {
  const [major, minor] = posixAddon().splitDev(rdev);
  return { major, minor };
}

/** Permission bits only: the type comes from the function. */
function permissions(mode: number): number {
  return mode & 0o7777;
}

export function makeFifoAt(dirfd: number, name: Buffer | string, mode: number): void {
  const addon = posixAddon();
  addon.mknodat(dirfd, name, addon.constants.S_IFIFO | permissions(mode), 0);
}

/** Needs CAP_MKNOD (root): otherwise EPERM. rdev is a raw dev_t or major:minor. */
export function makeDeviceAt(dirfd: number, name: Buffer | string, kind: DeviceKind, rdev: bigint | DeviceNumber, mode: number): void {
  const addon = posixAddon();
  const type = kind === 'char' ? addon.constants.S_IFCHR : addon.constants.S_IFBLK;
  const raw = typeof rdev === 'bigint' ? rdev : makeDeviceNumber(rdev.major, rdev.minor);
  addon.mknodat(dirfd, name, type | permissions(mode), raw);
}

/** A socket inode, as a bound unix socket leaves on disk (nothing listens on it after a restore). */
export function makeSocketAt(dirfd: number, name: Buffer | string, mode: number): void {
  const addon = posixAddon();
  addon.mknodat(dirfd, name, addon.constants.S_IFSOCK | permissions(mode), 0);
}
