// node.conf's receive_files / receive_to / receive_overwrite: a receiver that also restores the
// sender's files (its include folders, not its dumps) under one folder, with -i's overwrite rules.
import { ConfigError } from '../errors';
import { shown } from './display';
import type { ConfigText } from './parse';
import { folderPath } from './paths';
import { lastLine, toBoolean } from './values';

/** The same words as `-i --overwrite` (src/client/overwrite-policy.ts, which common/ may not import). */
export type ReceiveOverwrite = 'never' | 'if-newer' | 'always';

export interface ReceiveFilesSettings {
  /** The sender's files come back under this folder at their original paths, as with `-i --to`. */
  readonly to: string;
  readonly overwrite: ReceiveOverwrite;
}

export const RECEIVE_FILES_KEYS = ['receive_files', 'receive_to', 'receive_overwrite'];

/** Undefined unless receive_files = 1; receive_to and receive_overwrite without it are mistakes, not silently ignored. */
export function readReceiveFiles(config: ConfigText): ReceiveFilesSettings | undefined {
  const { file } = config;
  const enabledLine = lastLine(config, 'receive_files');
  const toLine = lastLine(config, 'receive_to');
  const overwriteLine = lastLine(config, 'receive_overwrite');
  const isEnabled = enabledLine === undefined ? false : toBoolean(file, enabledLine);
  if (!isEnabled) {
    const stray = toLine ?? overwriteLine;
    if (stray !== undefined) throw new ConfigError(file, stray.line, `${stray.key} has no effect without receive_files = 1`);
    return undefined;
  }
  if (toLine === undefined) throw new ConfigError(file, enabledLine?.line, 'receive_files = 1 needs receive_to = <the folder the sender\'s files go under>');
  let overwrite: ReceiveOverwrite = 'never';
  if (overwriteLine !== undefined) {
    const value = overwriteLine.value;
    if (value !== 'never' && value !== 'if-newer' && value !== 'always') {
      throw new ConfigError(file, overwriteLine.line, `receive_overwrite must be never, if-newer or always, got "${shown(value)}"`);
    }
    overwrite = value;
  }
  return Object.freeze({ to: folderPath(file, toLine), overwrite });
}
