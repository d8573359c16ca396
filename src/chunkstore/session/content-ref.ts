// What an entry's content is while a session runs: a content already in the catalog, or one this
// session recorded in memory whose rows go in at its next flush (its chunk ids may still be pending).

export interface StoredContentRef {
  readonly id: number;
  readonly size: number;
}

export interface PendingContent {
  readonly hash: Buffer;
  readonly size: number;
  /** Chunk ids in order: known ones, or ids that settle once their pack is stored. */
  readonly chunks: readonly (number | Promise<number>)[];
  /** Set by the flush that inserted it, so a later entry (a hard link) can still point at it. */
  id?: number;
}

export type ContentRef = StoredContentRef | PendingContent;

export function isPending(content: ContentRef): content is PendingContent {
  return 'chunks' in content;
}
