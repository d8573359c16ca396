// What a load that succeeded still has to tell its user: the lines its script raised as warnings, marked
// LOAD_WARNING (a partition detached and kept, a materialized view left unpopulated), read from its stderr.
import { StringDecoder } from 'node:string_decoder';

/** The start of a warning the load script raises for its user (RAISE WARNING '<LOAD_WARNING>…'). */
export const LOAD_WARNING = 'cpsbackup: ';

/** Warnings kept for one load; the rest are counted in a last one, so a huge run cannot grow memory. */
const MAX_WARNINGS = 1000;
/** A line longer than this is cut: a warning names a table or two and a count. */
const MAX_LINE = 8192;
// psql writes `psql:<stdin>:LINE: WARNING:  text` (the prefix with -f -), or `WARNING:  text`; the severity
// is in the server's lc_messages language (ATTENTION, WARNUNG), so any word is taken: the script raises none else.
const WARNING_LINE = /(?:^|: )[^\s:]+: {2}cpsbackup: (.*)$/;

/** Collects the marked warnings of a client's stderr, line by line, as chunks come. */
export class LoadWarnings {
  private readonly kept: string[] = [];
  private partial = '';
  private leftOut = 0;
  /** A character split between two chunks (a table named in UTF-8) is decoded whole. */
  private readonly decoder = new StringDecoder('utf8');

  push(chunk: Buffer): void {
    const lines = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = (lines.pop() ?? '').slice(0, MAX_LINE);
    for (const line of lines) this.take(line);
  }

  /** The warnings, once the client's stderr has ended. */
  lines(): string[] {
    this.partial += this.decoder.end();
    if (this.partial !== '') this.take(this.partial);
    this.partial = '';
    return this.leftOut === 0 ? [...this.kept] : [...this.kept, `${this.leftOut} more warnings`];
  }

  private take(line: string): void {
    const text = WARNING_LINE.exec(line)?.[1];
    if (text === undefined) return;
    if (this.kept.length < MAX_WARNINGS) this.kept.push(text.slice(0, MAX_LINE));
    else this.leftOut++;
  }
}
