// User and group names ↔ ids through NSS, with a per-instance cache (a restore asks the same few
// names thousands of times). Chooses an owner like GNU tar: the name when it exists here, else the id.
import { posixAddon } from './addon';

export interface Owner {
  readonly uid: number;
  readonly gid: number;
  /** Names recorded at backup time; absent when the id had no name there. */
  readonly user?: string;
  readonly group?: string;
}

export class OwnerNames {
  private readonly userNames = new Map<number, string | null>();
  private readonly groupNames = new Map<number, string | null>();
  private readonly userIds = new Map<string, number | null>();
  private readonly groupIds = new Map<string, number | null>();

  userName(uid: number): string | undefined {
    return cached(this.userNames, uid, () => posixAddon().userName(uid)) ?? undefined;
  }

  groupName(gid: number): string | undefined {
    return cached(this.groupNames, gid, () => posixAddon().groupName(gid)) ?? undefined;
  }

  userId(name: string): number | undefined {
    return cached(this.userIds, name, () => posixAddon().userId(name)) ?? undefined;
  }

  groupId(name: string): number | undefined {
    return cached(this.groupIds, name, () => posixAddon().groupId(name)) ?? undefined;
  }

  /** The owner as recorded on the source machine: ids plus their names where they had one. */
  describe(uid: number, gid: number): Owner {
    const user = this.userName(uid);
    const group = this.groupName(gid);
    return { uid, gid, ...(user === undefined ? {} : { user }), ...(group === undefined ? {} : { group }) };
  }

  /** The ids to give here: a recorded name that exists on this machine wins over the recorded id (tar's rule). */
  localIds(owner: Owner): { uid: number; gid: number } {
    const uid = owner.user === undefined ? undefined : this.userId(owner.user);
    const gid = owner.group === undefined ? undefined : this.groupId(owner.group);
    return { uid: uid ?? owner.uid, gid: gid ?? owner.gid };
  }
}

function cached<K, V>(map: Map<K, V>, key: K, lookup: () => V): V {
  if (map.has(key)) return map.get(key) as V;
  const value = lookup();
  map.set(key, value);
  return value;
}
