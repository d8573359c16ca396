// Makes the addon's openat of one name fail with an errno, as a folder check walking into it would see
// it (EACCES of root on an NFS mount with root_squash, ELOOP, a folder gone): restored when the test ends.
import { posixAddon } from '../../src/client/posix/addon';

export function failOpenatOf(t: { after(fn: () => void): void }, name: string, code: string): void {
  const addon = posixAddon() as unknown as Record<string, unknown>;
  const openat = addon.openat as (dirfd: number, name: Buffer | string, ...rest: unknown[]) => number;
  t.after(() => { addon.openat = openat; });
  addon.openat = (dirfd: number, opened: Buffer | string, ...rest: unknown[]): number => {
    if (String(opened) === name) throw Object.assign(new Error(`${code}: refused by the test, openat '${name}'`), { code });
    return openat(dirfd, opened, ...rest);
  };
}
