// `{file}` in a load command (`load`, `load_partial`): the restored dump's path reaches the shell in the
// environment variable CPSBACKUP_FILE, and {file} becomes a reference to it fit for where it stands.
//
// Why not the quoted path itself: the path is the restore target plus the backup's own path (in a
// receive, folders the sender named), and a single-quoted path pasted inside the operator's double
// quotes (`cat "{file}"`) let the shell run a `$(…)` in it. A variable's value is never parsed as
// command text, so the scan below decides only how the path is quoted, never whether it runs.

export const FILE_VARIABLE = 'CPSBACKUP_FILE';
const PLACEHOLDER = '{file}';

/** {file} where the shell would take it literally (inside '…' or $'…', or after a backslash). */
export class FilePlaceholderError extends Error {
  constructor(reason: string) {
    super(`{file} ${reason}, where the shell expands nothing: move it out of there, or write "$${FILE_VARIABLE}" (the path is in `
      + 'that environment variable) in a command that expands it, such as sh -c \'… "$CPSBACKUP_FILE"\'');
    this.name = 'FilePlaceholderError';
  }
}

type Context = 'plain' | 'double' | 'single' | 'ansi' | 'substitution' | 'backtick';

/**
 * The template with each {file} replaced: "$CPSBACKUP_FILE" outside quotes (one word, whatever the
 * path holds), ${CPSBACKUP_FILE} inside double quotes. Quotes, backslashes, $(…) and backticks are
 * followed; anything subtler (here-documents, case patterns) can at worst split or mis-quote the
 * path, never run it.
 */
export function withFileVariable(template: string): string {
  const stack: Context[] = ['plain'];
  const top = (): Context => stack[stack.length - 1];
  let output = '';
  let index = 0;
  while (index < template.length) {
    if (template.startsWith(PLACEHOLDER, index)) {
      const context = top();
      if (context === 'single' || context === 'ansi') throw new FilePlaceholderError(`stands inside ${context === 'single' ? "'…'" : "$'…'"}`);
      output += context === 'double' ? `\${${FILE_VARIABLE}}` : `"$${FILE_VARIABLE}"`;
      index += PLACEHOLDER.length;
      continue;
    }
    const character = template[index];
    const context = top();
    if (character === '\\' && context !== 'single') {
      if (template.startsWith(PLACEHOLDER, index + 1)) throw new FilePlaceholderError('follows a backslash');
      output += template.slice(index, index + 2);
      index += 2;
      continue;
    }
    if (context === 'single' || context === 'ansi') {
      if (character === "'") stack.pop();
    } else if (character === '$' && template[index + 1] === '(') {
      stack.push('substitution');
      output += '$(';
      index += 2;
      continue;
    } else if (character === '`') {
      if (context === 'backtick') stack.pop();
      else stack.push('backtick');
    } else if (context === 'double') {
      if (character === '"') stack.pop();
    } else if (character === '"') {
      stack.push('double');
    } else if (character === '$' && template[index + 1] === "'") {
      stack.push('ansi');
      output += "$'";
      index += 2;
      continue;
    } else if (character === "'") {
      stack.push('single');
    } else if (character === ')' && context === 'substitution') {
      stack.pop();
    }
    output += character;
    index++;
  }
  return output;
}
