// An S3 client stand-in at the SDK-command level, for unit tests of what a gateway may answer that Ceph
// here never does (SSE-KMS ETags, a truncated listing without a token, a partial Content-Range): each
// test says how every command is answered; the backend code above the client runs as it is.
import type { S3Client } from '@aws-sdk/client-s3';
import { S3Metrics } from '../../src/chunkstore/backend/s3/s3-metrics';
import { S3Requester, type S3Event } from '../../src/chunkstore/backend/s3/s3-requester';

/** One command as sent: its SDK class name (PutObjectCommand ...) and its input. */
export interface SentCommand {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

export type CommandAnswer = (input: Record<string, unknown>, sent: readonly SentCommand[]) => unknown;

export interface StubS3 {
  readonly requester: S3Requester;
  readonly sent: SentCommand[];
  readonly events: S3Event[];
  readonly metrics: S3Metrics;
  /** The commands of one kind, in order. */
  named(name: string): SentCommand[];
}

/** Answers each command by its class name; a command with no answer fails the test loudly. */
export function stubS3(answers: Readonly<Record<string, CommandAnswer>>, bucket = 'stub-bucket'): StubS3 {
  const sent: SentCommand[] = [];
  const events: S3Event[] = [];
  const client = {
    send: async (command: { constructor: { name: string }; input: Record<string, unknown> }): Promise<unknown> => {
      const name = command.constructor.name;
      sent.push({ name, input: command.input });
      const answer = answers[name];
      if (answer === undefined) throw new TypeError(`the stub has no answer for ${name}`);
      return answer(command.input, sent);
    },
  } as unknown as S3Client;
  const metrics = new S3Metrics();
  const requester = new S3Requester({
    client, bucket, endpoint: 'http://stub.invalid', metrics, credentialsSource: 'the stub',
    retryPolicy: { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 2 }, onEvent: (event) => events.push(event),
  });
  return { requester, sent, events, metrics, named: (name) => sent.filter((command) => command.name === name) };
}

/** An error as the SDK throws it for an HTTP answer. */
export function serviceError(status: number, code: string, message = code): Error {
  return Object.assign(new Error(message), { name: code, Code: code, $metadata: { httpStatusCode: status } });
}

/** An error as the SDK throws it when no answer came. */
export function connectionError(code = 'ECONNRESET'): Error {
  return Object.assign(new Error('socket hang up'), { code });
}
