// The paths a restore names, as a tree of names: whether an entry is one of them or lies below one is
// one look-up per name in the entry's path, whatever their number (a receiver names every root beside
// its dumps, and a scan of the whole list per entry let one request hold the server for minutes).
import { LoopYield } from '../common/loop-yield';
import { MAX_ENTRY_PATH_BYTES } from '../common/entry-path';
import { LimitError } from '../common/errors';

/**
 * Paths one restore may name. A receiver names each dump it loads (one per table or collection for
 * some sources) and the roots beside them; -i names what --include gives. 4 MiB of short paths made a
 * million, ~280 MB of this tree and 10 s of indexing.
 */
export const MAX_SELECTED_PATHS = 100_000;
/**
 * Names in the tree (the folders of all the paths, each counted once): one 4 MiB path of 2 million
 * one-letter folders made 470 MB of it. Honest paths share their folders: 100,000 dumps in one folder take
 * as many names and 30 MB.
 */
export const MAX_SELECTED_NAMES = 250_000;

const SLASH = 0x2f;

interface NameNode {
  /** A named path ends here: it and everything below it are selected. */
  isSelected: boolean;
  readonly children: Map<string, NameNode>;
}

export class SelectedPaths {
  private readonly root: NameNode = { isSelected: false, children: new Map() };
  private isEverything = false;
  /** Nodes made so far: what the tree costs. */
  private names = 0;

  private constructor() {}

  /**
   * The tree of the named paths, or a LimitError naming the client past the bounds above. Up to
   * MAX_SELECTED_PATHS take a second or two: the event loop turns while they are indexed, as it does
   * while entries are read.
   */
  static async index(paths: readonly Buffer[], clientName: string): Promise<SelectedPaths> {
    const refuse = (what: string): never => {
      throw new LimitError(`client "${clientName}" asked to restore ${what}: refused (name fewer, or their folders, or restore everything)`);
    };
    if (paths.length > MAX_SELECTED_PATHS) refuse(`${paths.length} paths, more than the ${MAX_SELECTED_PATHS} a restore may name`);
    const selected = new SelectedPaths();
    const loopYield = new LoopYield();
    for (const path of paths) {
      // No entry has a longer path: a longer one would select nothing, and cost a name per slash.
      if (path.length > MAX_ENTRY_PATH_BYTES) refuse(`a path of ${path.length} bytes, longer than any entry's (${MAX_ENTRY_PATH_BYTES})`);
      selected.add(path);
      if (selected.names > MAX_SELECTED_NAMES) refuse(`paths of more than ${MAX_SELECTED_NAMES} folders and names in all`);
      const turn = loopYield.turn();
      if (turn !== undefined) await turn;
    }
    return selected;
  }

  private add(path: Buffer): void {
    // "/" holds every path but itself, which has no entry.
    if (path.length === 1 && path[0] === SLASH) this.isEverything = true;
    let node = this.root;
    for (const name of namesOf(path)) {
      let child = node.children.get(name);
      if (child === undefined) {
        child = { isSelected: false, children: new Map() };
        node.children.set(name, child);
        this.names++;
      }
      node = child;
    }
    node.isSelected = true;
  }

  /** Whether path is a named path or lies below one: the names split at '/' start with a named path's names. */
  covers(path: Buffer): boolean {
    // Past "/", the other named paths still count (a relative one, "" ): the old linear rule took any match.
    if (this.isEverything && (path.length > 1 || (path.length === 1 && path[0] === SLASH))) return true;
    let node: NameNode | undefined = this.root;
    for (const name of namesOf(path)) {
      node = node.children.get(name);
      if (node === undefined) return false;
      if (node.isSelected) return true;
    }
    return false;
  }
}

/** The names between slashes, as latin1 text (one character per byte: any bytes survive). "/a" is "", "a". */
function* namesOf(path: Buffer): Generator<string> {
  let start = 0;
  for (;;) {
    const slash = path.indexOf(SLASH, start);
    if (slash < 0) {
      yield path.toString('latin1', start);
      return;
    }
    yield path.toString('latin1', start, slash);
    start = slash + 1;
  }
}
