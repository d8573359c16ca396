// Reads the sqlite3 CLI's `.dump` text as it streams past and says whether the dump is whole: `.dump`
// writes its errors into the dump itself and the CLI still exits 0, even with -bail (a meta-command).
import { OutputTail } from './output-tail';

/** `.dump` ends its transaction with this line only when it read everything without error. */
export const COMPLETE_DUMP_END = 'COMMIT;';

/**
 * How shell.c writes what went wrong, each on a line of its own: `/**** ERROR: (5) database is
 * locked *****\/` (run_table_dump_query), `/****** CORRUPTION ERROR *******\/` and the
 * `/****** ERROR: ... ******\/` of its retry. A corruption met while reading rows does not count as an
 * error in some versions, and the dump then still ends in COMMIT: hence both checks.
 */
const ERROR_MARKERS = ['/**** ERROR: ', '/****** CORRUPTION ERROR', '/****** ERROR: '].map((marker) => Buffer.from(marker));
const NEWLINE = 0x0a;
const SLASH = 0x2f;
/** How much of a marker line the error message shows. */
const LINE_BYTES = 240;
const TAIL_BYTES = 256;

export class SqliteDumpCheck {
  private isAtLineStart = true;
  /** The start of the current line, kept only when it begins with '/' (as every marker does). */
  private head: Buffer | undefined;
  private firstError: string | undefined;
  private readonly tail = new OutputTail(TAIL_BYTES);

  /** Memory stays bounded whatever the line lengths: a blob's INSERT can be hundreds of megabytes. */
  push(chunk: Buffer): void {
    this.tail.push(chunk);
    let position = 0;
    while (position < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, position);
      const end = newline < 0 ? chunk.length : newline;
      if (this.isAtLineStart && end > position) {
        this.isAtLineStart = false;
        if (chunk[position] === SLASH) this.head = Buffer.alloc(0);
      }
      if (this.head !== undefined && this.head.length < LINE_BYTES) {
        this.head = Buffer.concat([this.head, chunk.subarray(position, Math.min(end, position + LINE_BYTES - this.head.length))]);
      }
      if (newline < 0) return;
      this.endLine();
      position = newline + 1;
    }
  }

  /** Call once the dump has ended: undefined when it is whole, else why not, in words for the operator. */
  problem(): string | undefined {
    this.endLine();
    if (this.firstError !== undefined) return `sqlite3 .dump wrote an error into the dump: ${this.firstError}`;
    const tail = this.tail.text();
    if (tail === '') return 'sqlite3 .dump wrote nothing';
    if (tail !== COMPLETE_DUMP_END && !tail.endsWith(`\n${COMPLETE_DUMP_END}`)) {
      return `sqlite3 .dump ended with "${tail.slice(tail.lastIndexOf('\n') + 1)}", not "${COMPLETE_DUMP_END}": it met errors or was cut short`;
    }
    return undefined;
  }

  private endLine(): void {
    const head = this.head;
    this.head = undefined;
    this.isAtLineStart = true;
    if (head === undefined || this.firstError !== undefined) return;
    if (ERROR_MARKERS.some((marker) => head.subarray(0, marker.length).equals(marker))) this.firstError = head.toString('utf8').trim();
  }
}
