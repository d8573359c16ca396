// Splits a byte stream into lines without decoding it: rows stay the exact bytes the dumper wrote,
// and a line inside one chunk costs no copy.

/** Yields each line without its '\n'; a last line without one is yielded too. */
export async function* byteLines(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const chunk of stream) {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      if (pending.length > 0) {
        pending.push(piece);
        yield Buffer.concat(pending);
        pending = [];
      } else {
        yield piece;
      }
      start = newline + 1;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.length > 0) yield Buffer.concat(pending);
}
