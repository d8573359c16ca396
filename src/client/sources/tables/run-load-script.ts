// Streams a load script into the database client's stdin (backpressure from the client's reading
// to our reading of the dump file) and turns any failure into a LoadFailedError naming the step.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { LoadFailedError } from '../../../common/errors';
import { describeFailure, isSuccess, startProcess } from '../child-process';
import { STEP_MARKER } from './dialect';
import { LoadWarnings } from './load-warnings';
import type { ToolCommand } from './tool-command';

const BATCH_BYTES = 256 * 1024;

/** Joins the script's many small pieces (a row each) into fewer, larger writes. */
async function* batched(pieces: AsyncIterable<string | Buffer>): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of pieces) {
    const bytes = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece;
    parts.push(bytes);
    length += bytes.length;
    if (length >= BATCH_BYTES) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

/** The last step the client announced before it stopped (from its stdout tail). */
export function lastStep(stdoutTail: string): string | undefined {
  const steps = stdoutTail.split('\n').filter((line) => line.startsWith(STEP_MARKER));
  return steps.at(-1)?.slice(STEP_MARKER.length).trim();
}

/**
 * Resolves once the client exited 0 after reading the whole script, with the warnings the script raised for
 * its user (load-warnings.ts). A script that fails (a dump file out of shape) stops the client before it
 * reaches COMMIT; a client that fails is reported with the step it was in and its stderr.
 */
export async function runLoadScript(sourceName: string, command: ToolCommand, script: AsyncIterable<string | Buffer>,
  timeoutSeconds: number, into: string, stepFailureNote: (step: string) => string | undefined = () => undefined): Promise<string[]> {
  const warnings = new LoadWarnings();
  const running = startProcess(command.file, command.args,
    { stdin: 'pipe', stdout: 'tail', timeoutSeconds, env: command.env, onStderr: (chunk) => warnings.push(chunk) });
  let scriptError: unknown;
  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      yield* batched(script);
    } catch (error) {
      scriptError = error;
      throw error;
    }
  }
  let writeError: unknown;
  try {
    await pipeline(Readable.from(guarded()), running.stdin as NodeJS.WritableStream);
  } catch (error) {
    if (scriptError !== undefined) running.kill();
    else writeError = error;
  }
  const outcome = await running.outcome;
  if (scriptError !== undefined) throw scriptError;
  if (!isSuccess(outcome)) {
    const step = lastStep(outcome.stdoutTail);
    const stderr = outcome.stderrTail === '' ? '' : `\n${outcome.stderrTail}`;
    const note = step === undefined ? undefined : stepFailureNote(step);
    throw new LoadFailedError(sourceName, `${step === undefined ? '' : `${step}: `}loading into ${into}: `
      + `${command.file} ${describeFailure(outcome, timeoutSeconds)}${stderr}${note === undefined ? '' : `\n${note}`}`);
  }
  if (writeError !== undefined) throw new LoadFailedError(sourceName, `loading into ${into}: ${String(writeError)}`);
  return warnings.lines();
}
