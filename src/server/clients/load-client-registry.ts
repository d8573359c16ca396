// Reads clientconfdir into a ClientRegistry. One bad file refuses only itself (and, when it claims
// a certificate CN, that certificate); only a folder that cannot be listed fails the whole load.
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { clientRecordFrom, isValidClientName } from '../../common/config/client-record';
import { shown, shownPath } from '../../common/config/display';
import { configText, parseConfigText } from '../../common/config/parse';
import { describeErrno, FileProblem, kindOf, readRegularFile } from '../../common/config/regular-file';
import type { ServerConfig } from '../../common/config/server-config';
import { ConfigError } from '../../common/errors';
import { ClientRegistry, type RecordReading } from './client-registry';
import { isIgnoredRecordName } from '../../common/config/ignored-record-names';

/** A record is a few lines; anything larger is not one (and is not read whole into memory). */
const MAX_RECORD_BYTES = 64 * 1024;

export type ClientsFolderConfig = Pick<ServerConfig, 'file' | 'clientsDirectory' | 'clientsDirectoryLine'>;

/** Throws a ConfigError naming server.conf's clientconfdir line when the folder itself is unusable. */
export function loadClientRegistry(config: ClientsFolderConfig): ClientRegistry {
  const folder = config.clientsDirectory;
  const names = listFolder(config);
  const ignored: string[] = [];
  const readings: RecordReading[] = [];
  for (const name of names) {
    if (isIgnoredRecordName(name)) ignored.push(name);
    else readings.push(readRecord(folder, name));
  }
  return new ClientRegistry(folder, readings, ignored);
}

function listFolder(config: ClientsFolderConfig): string[] {
  const folder = config.clientsDirectory;
  const fail = (problem: string): ConfigError =>
    new ConfigError(config.file, config.clientsDirectoryLine, `clientconfdir: ${shownPath(folder)} ${problem}`);
  try {
    const kind = kindOf(statSync(folder));
    if (kind === 'a folder') return readdirSync(folder).sort();
    throw fail(`is ${kind ?? 'a regular file'}, not a folder`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    throw fail(describeErrno(folder, error).problem);
  }
}

function readRecord(folder: string, name: string): RecordReading {
  const file = path.join(folder, name);
  const refuse = (problem: string, line?: number, claimedCommonName?: string): RecordReading =>
    ({ refused: { name, file, line, problem, claimedCommonName } });
  let bytes: Buffer;
  try {
    bytes = readRegularFile(file, MAX_RECORD_BYTES);
  } catch (error) {
    if (error instanceof FileProblem) return refuse(error.problem);
    throw error;
  }
  let text: string;
  try {
    text = configText(file, bytes);
  } catch (error) {
    if (error instanceof ConfigError) return refuse(error.problem, error.line, claimedCommonName(bytes.toString('utf8')));
    throw error;
  }
  const claimed = claimedCommonName(text);
  if (!isValidClientName(name)) {
    return refuse(`"${shown(name)}" is not a valid client name (letters, digits, '.', '_', '-'; at most 64; `
      + 'no leading \'.\'); editor and backup files (*~, *.bak, *.swp, dot files …) are ignored', undefined, claimed);
  }
  try {
    return { record: clientRecordFrom(name, parseConfigText(file, text)) };
  } catch (error) {
    if (error instanceof ConfigError) return refuse(error.problem, error.line, claimed);
    throw error;
  }
}

/** The ssl_peer_cn a file names even when it is otherwise invalid, so duplicates are caught across bad records too. */
function claimedCommonName(text: string): string | undefined {
  let claimed: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*ssl_peer_cn\s*=\s*(.*?)\s*$/.exec(line);
    if (match !== null && match[1] !== '') claimed = match[1];
  }
  return claimed;
}
