// What a restore asked for (--include paths, a -r pattern), held against what the server sends: an entry
// it did not ask for ends the restore before that entry is written (a server that sends one is broken or hostile).
import { EntryType } from '../proto/cpsbackup';
import { ProtocolError } from '../common/errors';
import { escapeBytes } from '../common/escape-bytes';
import { compileLinearRegex } from '../common/linear-regex';
import type { RestoreMessageItem } from './restore-messages';

const SLASH = 0x2f;

/**
 * What one restore asked for, and the items the server sent held against it (only). The pattern is compiled
 * here, before the call: one the linear engine refuses fails as the server would refuse it.
 */
export class RequestedEntries {
  private readonly asked: AskedPaths;

  constructor(paths: readonly Buffer[], pathRegex: string) {
    this.asked = new AskedPaths(paths, pathRegex);
  }

  /**
   * The items the server sent, each only once it is known to be asked for: at or below an --include path
   * (all of them when none) and matching -r (on the path as -s lists it, as the server matches it), or a
   * folder above such an entry. The server sends a folder above a match only just before it, so such a
   * folder is held until the entry below it comes (a folder alone gets no mode, owner or times from it),
   * then passed on marked isAboveSelection.
   * A hard link must name an earlier entry of this restore: the server links only within what it sends,
   * and sends a file whose first name lies outside the selection with its content. Refusals are ProtocolErrors.
   */
  async* only(items: AsyncIterable<RestoreMessageItem>): AsyncGenerator<RestoreMessageItem> {
    /** Paths (latin1) of entries a later hard link may name: sent before it, not folders, not links, with more than one link. */
    const linkable = new Set<string>();
    /** Folders not asked for themselves, held until an entry below them that is; each lies below the one before. */
    let held: RestoreMessageItem[] = [];
    for await (const item of items) {
      const meta = item.meta;
      const isFolder = meta.type === EntryType.ENTRY_TYPE_DIRECTORY;
      const last = held[held.length - 1];
      if (last !== undefined && !isBelow(meta.path, last.meta.path)) throw sentAlone(last);
      if (!this.asked.isAsked(meta.path)) {
        if (!isFolder) throw new ProtocolError(`the server sent ${escapeBytes(meta.path)}, which this restore did not ask for (${this.asked.describe()}): nothing more restored`);
        held.push(item);
        continue;
      }
      if (meta.hardlinkTarget.length > 0 && !linkable.has(meta.hardlinkTarget.toString('latin1'))) {
        throw new ProtocolError(`the server sent ${escapeBytes(meta.path)} as a hard link to ${escapeBytes(meta.hardlinkTarget)}, `
          + 'which is no earlier entry of this restore: nothing more restored');
      }
      if (!isFolder && meta.hardlinkTarget.length === 0 && meta.nlink > 1) linkable.add(meta.path.toString('latin1'));
      if (held.length > 0) {
        for (const folder of held) yield { ...folder, isAboveSelection: true };
        held = [];
      }
      yield item;
    }
    if (held.length > 0) throw sentAlone(held[held.length - 1]);
  }
}

function sentAlone(folder: RestoreMessageItem): ProtocolError {
  return new ProtocolError(`the server sent the folder ${escapeBytes(folder.meta.path)}, which this restore did not ask for, `
    + 'without anything asked for below it: nothing more restored');
}

/** The --include paths and the -r pattern of one restore; no path and no pattern: everything. */
class AskedPaths {
  /** Latin1 keys: an entry is looked up by itself and each folder above it, as many paths as a receiver names. */
  private readonly includes: Set<string> | undefined;
  private readonly pattern: RegExp | undefined;

  constructor(private readonly paths: readonly Buffer[], private readonly pathRegex: string) {
    this.includes = paths.length === 0 ? undefined : new Set(paths.map((path) => path.toString('latin1')));
    this.pattern = pathRegex === '' ? undefined : compileLinearRegex(pathRegex, 'the restore pattern');
  }

  isAsked(path: Buffer): boolean {
    return this.isIncluded(path) && (this.pattern === undefined || this.pattern.test(escapeBytes(path)));
  }

  /** Why an entry is not asked for, for the refusal. */
  describe(): string {
    const why: string[] = [];
    if (this.paths.length > 0) {
      const shown = this.paths.slice(0, 3).map((path) => escapeBytes(path)).join(', ');
      why.push(`not at or below --include ${shown}${this.paths.length > 3 ? ` or ${this.paths.length - 3} more` : ''}`);
    }
    if (this.pattern !== undefined) why.push(`not matching -r ${JSON.stringify(this.pathRegex)}`);
    return why.join(' or ');
  }

  private isIncluded(path: Buffer): boolean {
    if (this.includes === undefined || this.includes.has('/')) return true;
    for (let end = path.length; end > 0; end = path.lastIndexOf(SLASH, end - 1)) {
      if (this.includes.has(path.toString('latin1', 0, end))) return true;
    }
    return false;
  }
}

/** Whether path lies below folder ("/" holds every other path). */
function isBelow(path: Buffer, folder: Buffer): boolean {
  if (folder.length === 1 && folder[0] === SLASH) return path.length > 1;
  return path.length > folder.length && path[folder.length] === SLASH && path.subarray(0, folder.length).equals(folder);
}
