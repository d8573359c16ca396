// Where a pack or a blob lives in the bucket: `<prefix>packs/<first 2 characters>/<name>` and
// `<prefix>blobs/<name>`; and the reverse, from a listed key back to a name.

const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export type ObjectKind = 'pack' | 'blob';

export class ObjectKeys {
  readonly packsPrefix: string;
  readonly blobsPrefix: string;

  /** prefix is empty or ends with '/' (normalizeS3Prefix). */
  constructor(readonly prefix: string) {
    this.packsPrefix = `${prefix}packs/`;
    this.blobsPrefix = `${prefix}blobs/`;
  }

  /** The fan-out folder keeps any one listing page from mixing every pack (and mirrors the local layout). */
  packKey(name: string): string {
    checkName('pack', name);
    if (name.length < 2) throw new RangeError(`pack name "${name}" is shorter than 2 characters`);
    return `${this.packsPrefix}${name.slice(0, 2)}/${name}`;
  }

  blobKey(name: string): string {
    checkName('blob', name);
    return `${this.blobsPrefix}${name}`;
  }

  /** The pack name of a listed key, or undefined for a key this layout would never write. */
  packNameOf(key: string): string | undefined {
    if (!key.startsWith(this.packsPrefix)) return undefined;
    const rest = key.slice(this.packsPrefix.length);
    const slash = rest.indexOf('/');
    const name = rest.slice(slash + 1);
    if (slash !== 2 || !namePattern.test(name) || name.slice(0, 2) !== rest.slice(0, 2)) return undefined;
    return name;
  }

  blobNameOf(key: string): string | undefined {
    if (!key.startsWith(this.blobsPrefix)) return undefined;
    const name = key.slice(this.blobsPrefix.length);
    return namePattern.test(name) ? name : undefined;
  }
}

/** Names reach object keys and file names: letters, digits, '.', '_', '-', never a '/' or a leading dot. */
export function checkName(kind: ObjectKind, name: string): void {
  if (!namePattern.test(name)) {
    throw new RangeError(`${kind} name "${name}" must be 1 to 200 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}

/** "" stays ""; "a/b" and "/a/b/" become "a/b/". */
export function normalizeS3Prefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}
