// node.conf's scripts around backups and restores (burp's keys): backup_script_pre, backup_script_post
// and restore_script_post, each an executable file with its repeatable *_arg lines.
import { accessSync, constants } from 'node:fs';
import { ConfigError } from '../errors';
import { shownPath } from './display';
import type { ConfigText } from './parse';
import { existingFile } from './paths';
import { allLines, lastLine } from './values';

export interface HookScript {
  /** Absolute path of an executable file; run directly (no shell), with `args` after the fixed ones. */
  readonly path: string;
  readonly args: readonly string[];
}

export interface ScriptSettings {
  readonly backupPre: HookScript | undefined;
  readonly backupPost: HookScript | undefined;
  readonly restorePost: HookScript | undefined;
}

export const SCRIPT_KEYS: readonly string[] = Object.freeze(['backup_script_pre', 'backup_script_post', 'restore_script_post']);
export const SCRIPT_ARG_KEYS: readonly string[] = Object.freeze(SCRIPT_KEYS.map((key) => `${key}_arg`));

export function readScriptKeys(config: ConfigText): ScriptSettings {
  return Object.freeze({
    backupPre: readScript(config, 'backup_script_pre'),
    backupPost: readScript(config, 'backup_script_post'),
    restorePost: readScript(config, 'restore_script_post'),
  });
}

function readScript(config: ConfigText, key: string): HookScript | undefined {
  const entry = lastLine(config, key);
  const args = allLines(config, `${key}_arg`).map((line) => line.value);
  if (entry === undefined) {
    const stray = allLines(config, `${key}_arg`)[0];
    if (stray !== undefined) throw new ConfigError(config.file, stray.line, `${key}_arg is set but ${key} is not`);
    return undefined;
  }
  const resolved = existingFile(config.file, entry);
  try {
    accessSync(resolved, constants.X_OK);
  } catch {
    throw new ConfigError(config.file, entry.line, `${key}: ${shownPath(resolved)} is not executable`);
  }
  return Object.freeze({ path: resolved, args: Object.freeze(args) });
}
