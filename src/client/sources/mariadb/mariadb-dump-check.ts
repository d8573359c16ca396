// Reads data.sql as the mariadb client writes it and says whether every row line is a row: a row the
// server could not render within max_allowed_packet comes out as TOO_LARGE_LINE (or, bare, as NULL).

/** The dump script's stand-in for a row CONCAT returned NULL for: `<this> (`id` = 2) 16777216`. */
export const TOO_LARGE_LINE = '-- cpsbackup-row-too-large';

const TABLE_LINE = Buffer.from('-- cpsbackup-table ');
const TOO_LARGE = Buffer.from(TOO_LARGE_LINE);
const NULL_LINE = Buffer.from('NULL');
const NEWLINE = 0x0a;
/** Long enough for every header line and too-large line kept whole; a row line's head only is looked at. */
const HEAD_BYTES = 64 * 1024;

export class MariadbDumpCheck {
  private head: Buffer[] = [];
  private headLength = 0;
  private table = '?';
  private row = 0;
  private firstProblem: string | undefined;

  /** Memory stays bounded whatever the line lengths: a row can be hundreds of megabytes. */
  push(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length && this.firstProblem === undefined) {
      const newline = chunk.indexOf(NEWLINE, position);
      const end = newline < 0 ? chunk.length : newline;
      if (this.headLength < HEAD_BYTES) {
        const piece = chunk.subarray(position, Math.min(end, position + HEAD_BYTES - this.headLength));
        this.head.push(piece);
        this.headLength += piece.length;
      }
      if (newline < 0) return;
      this.endLine(Buffer.concat(this.head));
      this.head = [];
      this.headLength = 0;
      position = newline + 1;
    }
  }

  /** What is wrong with the dump so far, or undefined. */
  problem(): string | undefined {
    return this.firstProblem;
  }

  private endLine(head: Buffer): void {
    if (head.subarray(0, TABLE_LINE.length).equals(TABLE_LINE)) {
      try {
        this.table = String((JSON.parse(head.subarray(TABLE_LINE.length).toString('utf8')) as { table?: unknown }).table);
      } catch {
        this.table = '?';
      }
      this.row = 0;
      return;
    }
    const isTooLarge = head.subarray(0, TOO_LARGE.length).equals(TOO_LARGE);
    if (!isTooLarge && head.subarray(0, 3).toString('latin1') === '-- ') return;
    this.row++;
    if (isTooLarge) {
      const words = head.subarray(TOO_LARGE.length).toString('utf8').trim();
      const limit = /(\d+)$/.exec(words)?.[1] ?? '?';
      const key = words.slice(0, words.length - limit.length).trim();
      this.firstProblem = `table ${this.table}: row ${this.row}${key === '' ? '' : ` ${key}`} is larger than the server's max_allowed_packet `
        + `(${limit} bytes) as an INSERT line (binary counts twice, as hex): raise max_allowed_packet on the server (SET GLOBAL) or exclude the column`;
    } else if (head.equals(NULL_LINE)) {
      this.firstProblem = `table ${this.table}: row ${this.row} came out as NULL, not as a row`;
    }
  }
}
