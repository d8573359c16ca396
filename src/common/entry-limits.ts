// What one backup entry's metadata may hold, for both sides: an entry travels whole in one gRPC message
// (maxMessageBytes, 4 MiB), and one too big for it made the whole backup fail, every night.

/**
 * Data extents (offset, length pairs) one entry may list. 65,536 pairs take at most 1 MiB encoded (8
 * bytes a value, for offsets past 2^49), about 600 KiB for a file under 32 GiB; a 10 GB table punched
 * every 16 KiB has 650,000, about 5 MB. The client fills a file's smallest holes until it has no more.
 */
export const MAX_EXTENTS = 65_536;
