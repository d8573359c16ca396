// node.conf's receive_ignore: sources a receiver leaves out on purpose, whichever side names them: the
// sender's it does not replicate (one database of several), and its own (named in storage.conf for its
// own backups), never to be loaded over from the sender's dumps. Their dumps are skipped with an info
// line, and neither is warned of with exit 3 as an unclaimed dump or an absent source is.
import { ConfigError } from '../errors';
import { shown } from './display';
import type { ConfigText } from './parse';
import { isValidSourceName, SOURCE_NAME_RULE } from './source-name';
import { allLines } from './values';

export const RECEIVE_IGNORE_KEY = 'receive_ignore';

/** Every name of every receive_ignore line (repeatable, comma-separated), each a valid source name. */
export function readReceiveIgnore(config: ConfigText): readonly string[] {
  const names = new Set<string>();
  for (const entry of allLines(config, RECEIVE_IGNORE_KEY)) {
    for (const name of entry.value.split(',').map((part) => part.trim())) {
      if (!isValidSourceName(name)) {
        throw new ConfigError(config.file, entry.line, `receive_ignore: "${shown(name)}" is not a source name (${SOURCE_NAME_RULE})`);
      }
      names.add(name);
    }
  }
  return Object.freeze([...names]);
}
