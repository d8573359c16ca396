// Reads data.sql as the mariadb client writes it and says whether every row line is a row: a row the
// server could not render (past max_allowed_packet, an ENUM error value) comes out as NOT_RENDERED_LINE
// (or, bare, as NULL).

/** The dump script's stand-in for a row CONCAT returned NULL for: `<this> 16777216 (`id` = 2)` or `<this> enum:0,3 (`id` = 2)` (column places). */
export const NOT_RENDERED_LINE = '-- cpsbackup-row-not-rendered';

const TABLE_LINE = Buffer.from('-- cpsbackup-table ');
const NOT_RENDERED = Buffer.from(NOT_RENDERED_LINE);
const NULL_LINE = Buffer.from('NULL');
const NEWLINE = 0x0a;
/** Long enough for every header line and too-large line kept whole; a row line's head only is looked at. */
const HEAD_BYTES = 64 * 1024;

export class MariadbDumpCheck {
  private head: Buffer[] = [];
  private headLength = 0;
  private table = '?';
  private columns: readonly string[] = [];
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
        const section = JSON.parse(head.subarray(TABLE_LINE.length).toString('utf8')) as { table?: unknown; columns?: unknown };
        this.table = String(section.table);
        this.columns = Array.isArray(section.columns) ? section.columns.map(String) : [];
      } catch {
        this.table = '?';
        this.columns = [];
      }
      this.row = 0;
      return;
    }
    const isNotRendered = head.subarray(0, NOT_RENDERED.length).equals(NOT_RENDERED);
    if (!isNotRendered && head.subarray(0, 3).toString('latin1') === '-- ') return;
    this.row++;
    if (isNotRendered) {
      const words = head.subarray(NOT_RENDERED.length).toString('utf8').trim();
      const space = words.indexOf(' ');
      const reason = space < 0 ? words : words.slice(0, space);
      const row = `table ${this.table}: row ${this.row}${space < 0 ? '' : ` ${words.slice(space + 1)}`}`;
      if (reason.startsWith('enum:')) {
        const columns = reason.slice('enum:'.length).split(',').map((place) => `\`${this.columns[Number(place)] ?? place}\``);
        this.firstProblem = `${row} holds ENUM's error value '' (index 0) in ${columns.join(', ')}, stored under a non-strict sql_mode; `
          + 'no strict load takes it: set a member (or NULL) there, or exclude the column';
      } else {
        this.firstProblem = `${row} is larger than the server's max_allowed_packet (${reason} bytes) as an INSERT line `
          + '(binary counts twice, as hex): raise max_allowed_packet on the server (SET GLOBAL) or exclude the column';
      }
    } else if (head.equals(NULL_LINE)) {
      this.firstProblem = `table ${this.table}: row ${this.row} came out as NULL, not as a row`;
    }
  }
}
