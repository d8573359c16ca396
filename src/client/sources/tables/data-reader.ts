// Reads a restored data.sql back as events: its header, then each table's header and row lines,
// sequences and the end line. Anything out of place is a LoadFailedError naming file and line.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { LoadFailedError } from '../../../common/errors';
import type { DatabaseKind } from '../database-config';
import { byteLines } from './byte-lines';
import { dataHeaderProblem, sectionHeaderProblem } from './data-header-check';
import {
  DATA_LINE, END_LINE, SEQUENCE_LINE, TABLE_LINE,
  type DataEnd, type DataHeader, type SectionHeader, type SequenceValue,
} from './data-format';

export type DataEvent =
  | { readonly type: 'table'; readonly section: SectionHeader }
  /** One row: a COPY text line (PostgreSQL) or an `INSERT ...;` line (MariaDB), without '\n'. */
  | { readonly type: 'row'; readonly bytes: Buffer; readonly line: number }
  | { readonly type: 'sequence'; readonly value: SequenceValue }
  | { readonly type: 'end'; readonly end: DataEnd };

const HEADER_LIMIT = 4 * 1024 * 1024;
const TAIL_BYTES = 64 * 1024;
const COPY_END = '\\.';

/**
 * The first line, and a check that the last one is the end line: a dump cut short (disk full on a
 * restore, a file edited by hand) is refused before anything is loaded.
 */
export async function readDataHeader(sourceName: string, path: string): Promise<DataHeader> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(Math.min(size, HEADER_LIMIT));
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    const newline = head.subarray(0, bytesRead).indexOf(10);
    const first = head.subarray(0, newline < 0 ? bytesRead : newline).toString('utf8');
    if (!first.startsWith(DATA_LINE)) throw new LoadFailedError(sourceName, `${path}:1: not a cpsbackup database dump (no "${DATA_LINE.trim()}" line)`);
    const tail = Buffer.alloc(Math.min(size, TAIL_BYTES));
    await file.read(tail, 0, tail.length, size - tail.length);
    const lastLine = tail.toString('utf8').trimEnd().split('\n').at(-1) ?? '';
    if (!lastLine.startsWith(END_LINE)) {
      throw new LoadFailedError(sourceName, `${path} does not end with "${END_LINE.trim()}": the dump is truncated`);
    }
    const header = parseJson<DataHeader>(sourceName, path, 1, first.slice(DATA_LINE.length));
    const problem = dataHeaderProblem(header);
    if (problem !== undefined) throw new LoadFailedError(sourceName, `${path}:1: not loaded: ${problem}`);
    return header;
  } finally {
    await file.close();
  }
}

const CARRIAGE_RETURN = 0x0d;

/** Every line after the header as events, streaming; PostgreSQL rows sit between a COPY line and `\.`. */
export async function* readDataEvents(sourceName: string, path: string, kind: DatabaseKind): AsyncGenerator<DataEvent> {
  let lineNumber = 0;
  let isInCopy = false;
  let isAfterTable = false;
  let hasEnded = false;
  const fail = (message: string): never => {
    throw new LoadFailedError(sourceName, `${path}:${lineNumber}: ${message}`);
  };
  for await (const bytes of byteLines(createReadStream(path, { highWaterMark: 256 * 1024 }))) {
    lineNumber++;
    if (lineNumber === 1) continue;
    if (hasEnded) fail('text after the end line');
    if (isInCopy) {
      if (bytes.length === 2 && bytes.toString('latin1') === COPY_END) isInCopy = false;
      // COPY's text format writes a carriage return as \r; a raw one makes psql take "\." + CR for the
      // end of the rows, and what follows for commands (pg-load-script.ts RestrictedMode).
      else if (bytes.includes(CARRIAGE_RETURN)) fail('a row holds a raw carriage return, which COPY never writes: not a dump cpsbackup made');
      else yield { type: 'row', bytes, line: lineNumber };
      continue;
    }
    if (isAfterTable && kind === 'postgresql') {
      isAfterTable = false;
      if (!bytes.toString('utf8').startsWith('COPY ')) fail('expected the COPY line of the table above');
      isInCopy = true;
      continue;
    }
    if (kind === 'mariadb' && bytes.subarray(0, 12).toString('latin1') === 'INSERT INTO ') {
      if (!isAfterTable) fail('a row before any table header');
      yield { type: 'row', bytes, line: lineNumber };
      continue;
    }
    const text = bytes.toString('utf8');
    if (text.startsWith(TABLE_LINE)) {
      isAfterTable = true;
      const section = parseJson<SectionHeader>(sourceName, path, lineNumber, text.slice(TABLE_LINE.length));
      const problem = sectionHeaderProblem(section);
      if (problem !== undefined) fail(`not loaded: ${problem}`);
      yield { type: 'table', section };
    } else if (text.startsWith(SEQUENCE_LINE)) {
      isAfterTable = false;
      yield { type: 'sequence', value: parseJson<SequenceValue>(sourceName, path, lineNumber, text.slice(SEQUENCE_LINE.length)) };
    } else if (text.startsWith(END_LINE)) {
      hasEnded = true;
      yield { type: 'end', end: parseJson<DataEnd>(sourceName, path, lineNumber, text.slice(END_LINE.length)) };
    } else if (text !== '') {
      fail(`unexpected line "${text.slice(0, 80)}"`);
    }
  }
  if (isInCopy) fail('the file ends inside a table\'s rows');
  if (!hasEnded) fail(`no "${END_LINE.trim()}" line: the dump is truncated`);
}

function parseJson<T>(sourceName: string, path: string, line: number, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new LoadFailedError(sourceName, `${path}:${line}: unreadable header: ${text.slice(0, 80)}`);
  }
}
