// What a client's Begin (hostname, labels, client version) becomes before the server keeps it: the
// catalog row, and every -l, -s and --json that shows it later, to this client and its restore_clients.
import { BackupKind, type Begin } from '../proto/cpsbackup';
import { escapeLineBreaking, LONGEST_ESCAPE, shown } from '../common/config/display';
import { shownWarnings } from './received-text';
import { ProtocolError } from '../common/errors';

/** RFC 1035's whole name; Linux's own nodename (what os.hostname() reads) is at most 64. */
export const HOSTNAME_LENGTH = 255;
/** Our client sends package.json's version; room for a distribution's suffix, not for a page. */
export const CLIENT_VERSION_LENGTH = 256;
/**
 * Labels per backup. Ours are a version per dump source, a high-water mark per table dumped partially
 * and three about the dumps: a database of a few thousand tables with a since_field stays far below.
 */
export const MAX_LABELS = 10_000;
/** `mark.<source>.<table>.<column>`: identifiers of 64 characters (MySQL; PostgreSQL's are 63 bytes) and a source name. */
export const MAX_LABEL_KEY_BYTES = 1024;
/**
 * A version line is cut at 4 KiB by the client (child-process.ts HEAD_BYTES); `dumps.partial_sources`
 * names every source dumped partially, comma-separated, and must arrive whole (see receivedLabels).
 */
export const MAX_LABEL_VALUE_BYTES = 64 * 1024;
/**
 * Keys and values of one backup: a backup's summary travels whole in one gRPC message of at most 4 MiB (a List
 * batch, a Show's first batch, a Protect's or a Commit's answer), beside its warnings and a List batch's budget.
 */
export const MAX_LABELS_BYTES = 1024 * 1024;
/** Written by the server from Commit's warnings (received-text.ts), never taken from a client. */
const SERVER_LABELS: ReadonlySet<string> = new Set(['warnings']);

export interface ReceivedBegin {
  readonly hostname: string;
  readonly labels: Record<string, string>;
}

/**
 * The hostname and labels to keep, or a ProtocolError naming the client and the field. A hostname or
 * version that is odd (a control character, too long) is cleaned, never refused: it only describes the
 * backup, and a backup lost for it would be lost for nothing.
 */
export function receivedBegin(clientName: string, begin: Begin): ReceivedBegin {
  // Another number was kept as given, and read differently by each reader: complete for -l and for
  // retention (with its backup number standing in for the ordinal of complete backups it never got),
  // not complete for the daemon's missed-run check.
  if (begin.kind !== BackupKind.BACKUP_KIND_COMPLETE && begin.kind !== BackupKind.BACKUP_KIND_PARTIAL) {
    throw new ProtocolError(`client "${clientName}" sent a Begin of kind ${begin.kind}, neither complete (0) nor partial (1): refused`);
  }
  const labels = receivedLabels(clientName, begin.labels);
  if (begin.clientVersion !== '') labels['client.version'] = shown(begin.clientVersion, CLIENT_VERSION_LENGTH);
  return { hostname: shown(begin.hostname, HOSTNAME_LENGTH), labels };
}

/**
 * Labels whose keys and values are escaped (a line feed or escape sequence cannot forge a line of -s or
 * repaint a terminal). Too many, or too long, is refused rather than cut: the client reads its labels
 * back, and a cut one reads as another value (a high-water mark of the wrong table, a list of partially
 * dumped sources without its last one, loaded then by a whole dump's loader). No honest client reaches
 * these limits; a hostile one gets its backup refused, which costs only itself.
 */
export function receivedLabels(clientName: string, received: Readonly<Record<string, string>>): Record<string, string> {
  const refuse = (what: string): never => {
    throw new ProtocolError(`client "${clientName}" sent a Begin whose labels ${what}: refused`);
  };
  // Keys, not entries: counted before anything of a hostile map is copied.
  const keys = Object.keys(received);
  if (keys.length > MAX_LABELS) refuse(`number ${keys.length}, more than ${MAX_LABELS}`);
  const labels: Record<string, string> = {};
  let totalBytes = 0;
  for (const key of keys) {
    const value = received[key];
    const keyBytes = Buffer.byteLength(key);
    const valueBytes = Buffer.byteLength(value);
    if (keyBytes === 0 || keyBytes > MAX_LABEL_KEY_BYTES) refuse(`hold a key of ${keyBytes} bytes; keys are 1 to ${MAX_LABEL_KEY_BYTES} bytes`);
    if (valueBytes > MAX_LABEL_VALUE_BYTES) refuse(`hold a value of ${valueBytes} bytes under key ${shown(key)}, more than ${MAX_LABEL_VALUE_BYTES}`);
    if (SERVER_LABELS.has(key)) refuse(`hold the key "${key}", which only the server writes`);
    // Escaped, never cut (the limits above bound them): our client's labels hold no control character,
    // so they are kept as sent, and the client reads them back intact.
    const keptKey = escapeLineBreaking(key);
    const keptValue = escapeLineBreaking(value);
    // Counted as kept: a control character takes 4 bytes escaped, and 1 MiB of them sent made a summary of
    // over 4 MiB kept, which no List, Show or Protect of the backup (nor its Commit's answer) could carry.
    totalBytes += Buffer.byteLength(keptKey) + Buffer.byteLength(keptValue);
    if (totalBytes > MAX_LABELS_BYTES) refuse(`take more than ${MAX_LABELS_BYTES} bytes in all, escaped`);
    labels[keptKey] = keptValue;
  }
  return labels;
}

/**
 * A catalog row's hostname and labels as the server shows them: rows kept before these rules hold
 * whatever a client sent, and are cleaned the same way on the way out, cut where a new one is refused.
 * The warnings keep their line feeds, one warning a line, cut as new ones are (received-text.ts shownWarnings).
 */
export function shownBackupText(hostname: string, labels: Readonly<Record<string, string>>): ReceivedBegin {
  const shownLabels: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels).slice(0, MAX_LABELS)) {
    shownLabels[shown(key, keptLength(MAX_LABEL_KEY_BYTES))] = SERVER_LABELS.has(key)
      ? shownWarnings(value) : shown(value, keptLength(MAX_LABEL_VALUE_BYTES));
  }
  return { hostname: shown(hostname, keptLength(HOSTNAME_LENGTH)), labels: shownLabels };
}

/**
 * The longest a text kept under these rules can be, escaped: each character at most LONGEST_ESCAPE
 * ("\u{e0001}"), and the cut's mark. A row kept under them is shown as kept, never cut a second time.
 */
function keptLength(limit: number): number {
  return limit * LONGEST_ESCAPE + 1;
}
