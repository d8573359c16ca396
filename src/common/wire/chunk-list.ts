// A file's chunk list on the wire, shared by both sides: the client sends a long list ahead in parts
// of at most this many hashes, and the server refuses a part, or a whole list, beyond what a file has.
export const CHUNK_HASH_SIZE = 32;
export const CHUNK_LIST_HASHES_PER_MESSAGE = 16 * 1024;
/** 64 parts and the entry's own list: about 1 Mi chunks, a file of 128 TiB at the default chunk sizes. */
export const MAX_CHUNK_LIST_HASHES = 65 * CHUNK_LIST_HASHES_PER_MESSAGE;
