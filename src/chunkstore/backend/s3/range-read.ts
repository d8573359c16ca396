// Reads `length` bytes at `offset` of one object with a Range GET into one buffer of that size. A
// body or an answered range cut short is retried; an object shorter than the range is corruption (the
// catalog asked for bytes the pack never had), never an I/O error in disguise, and the other way round.
import type { Readable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { CorruptError, NotFoundError } from '../../../common/errors';
import { headObject } from './object-head';
import { S3RequestError, TransientS3Failure } from './s3-errors';
import type { S3Requester } from './s3-requester';

interface ContentRange {
  readonly start: number;
  readonly end: number;
  readonly total: number;
}

/** "bytes 10-19/100" → {10, 19, 100}; undefined for anything else. */
export function parseContentRange(header: string | undefined): ContentRange | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header ?? '');
  if (match === null) return undefined;
  return { start: Number(match[1]), end: Number(match[2]), total: Number(match[3]) };
}

export async function readObjectRange(requester: S3Requester, key: string, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`bad range: offset ${offset}, length ${length}`);
  }
  const where = `s3://${requester.bucket}/${key}`;
  if (length === 0) {
    const head = await headObject(requester, key);
    if (head === undefined) throw new NotFoundError(`s3 get ${where}: no such object`);
    if (offset > head.size) throw new CorruptError(`${where} is ${head.size} bytes; offset ${offset} is past its end`);
    return Buffer.alloc(0);
  }
  let result: { data: Buffer; total: number };
  try {
    result = await requester.run('get', key, async () => {
      const answer = await requester.client.send(new GetObjectCommand({
        Bucket: requester.bucket, Key: key, Range: `bytes=${offset}-${offset + length - 1}`,
      }));
      const body = answer.Body as Readable | undefined;
      try {
        const range = parseContentRange(answer.ContentRange);
        if (range === undefined || range.start !== offset || range.end > offset + length - 1) {
          throw new S3RequestError({ operation: 'get', bucket: requester.bucket, key, endpoint: requester.settings.endpoint },
            { status: answer.$metadata.httpStatusCode, code: 'RangeIgnored', isTransient: false }, 1,
            `asked bytes ${offset}-${offset + length - 1}, the service answered "${answer.ContentRange ?? 'the whole object'}"`);
        }
        // Fewer bytes than asked although the object goes on past them (range.total): the answer is short,
        // not the object (a proxy or gateway cutting ranges); another attempt may bring the whole range.
        if (range.end < offset + length - 1 && range.end + 1 < range.total) {
          throw new TransientS3Failure(`asked bytes ${offset}-${offset + length - 1} of ${range.total}, the service answered only `
            + `"${answer.ContentRange ?? ''}"`, 'ShortRange');
        }
        const data = await readBody(body, range.end - range.start + 1);
        return { data, total: range.total };
      } finally {
        body?.destroy();
      }
    }, (value) => value.data.length);
  } catch (error) {
    if (error instanceof S3RequestError && error.status === 416) {
      const head = await headObject(requester, key);
      throw new CorruptError(`${where} is ${head?.size ?? 'fewer than'} bytes; bytes ${offset}-${offset + length - 1} are past its end`);
    }
    throw error;
  }
  if (result.data.length < length) {
    throw new CorruptError(`${where} is ${result.total} bytes; bytes ${offset}-${offset + length - 1} run past its end`);
  }
  return result.data;
}

/** Copies the body into one buffer of the announced size; fewer bytes (a cut connection) is retried. */
async function readBody(body: Readable | undefined, size: number): Promise<Buffer> {
  const data = Buffer.allocUnsafe(size);
  let filled = 0;
  if (body !== undefined) {
    for await (const chunk of body) {
      const bytes = chunk as Buffer;
      if (filled + bytes.length > size) throw new TransientS3Failure(`the body runs past the ${size} bytes announced`, 'LongBody');
      bytes.copy(data, filled);
      filled += bytes.length;
    }
  }
  if (filled !== size) throw new TransientS3Failure(`the body ended after ${filled} of ${size} bytes`);
  return data;
}
