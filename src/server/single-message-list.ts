// The List answer for a client older than batches: every summary in one message, when they fit in what
// that client accepts. On the wire it reads the one message of a stream as the unary answer it expects.
import { BackupSummary } from '../proto/cpsbackup';
import { varintLength } from '../common/wire/varint';

/**
 * What an older client accepts in one message: the smaller of gRPC's default receive cap and the
 * 'grpc.max_receive_message_length' its channel set (maxMessageBytes, 4 MiB since the first TLS client;
 * a literal here, since that client's cap stays what it was whatever ours becomes), less a margin.
 */
export const OLDER_CLIENT_LIST_BYTES = 4 * 1024 * 1024 - 64 * 1024;

/** ListBatch's is_last (tag and value), which an older client's decoder skips but still receives. */
const IS_LAST_BYTES = 2;

/**
 * The summaries (made by `summaryOf`, in order) if their ListBatch encodes within `maxBytes`, or
 * undefined once it would not: no more summaries are made than fit, so memory stays within the answer.
 * Each is encoded to be measured (a bound would refuse lists of small backups that fit): cheap against
 * the 4 MiB at most it costs, and only older clients pay it.
 */
export function singleMessageList<T>(records: readonly T[], summaryOf: (record: T, index: number) => BackupSummary, maxBytes: number): BackupSummary[] | undefined {
  const summaries: BackupSummary[] = [];
  let bytes = IS_LAST_BYTES;
  if (bytes > maxBytes) return undefined;
  for (const [index, record] of records.entries()) {
    const summary = summaryOf(record, index);
    const summaryBytes = BackupSummary.encode(summary).finish().length;
    // Field 1, length-delimited: its tag, the summary's length as a varint, then the summary.
    bytes += 1 + varintLength(summaryBytes) + summaryBytes;
    if (bytes > maxBytes) return undefined;
    summaries.push(summary);
  }
  return summaries;
}
