// An option of one value given twice is refused (exit 2, naming it): commander keeps the last silently, so
// `--protect 1 --protect 2` protected 2 alone and `-d 3 -d 4 --force` deleted 4 alone, both exit 0.
import type { EventEmitter } from 'node:events';
import { Command, CommanderError, type Option } from 'commander';

/** Commander's own options, which end the command at their first sight. */
const COMMANDER_OWN = new Set(['help', 'version']);

/** How an option is named to the operator: `-d/--delete`, `--load/--no-load` for a pair sharing one value. */
function spelling(options: readonly Option[]): string {
  return options.flatMap((option) => [option.short, option.long].filter((flag): flag is string => flag !== undefined)).join('/');
}

/**
 * Every option of `program` and of its subcommands (at any depth) that takes one value, given more than once
 * (`--load` and `--no-load` count as one option), makes the parse throw a CommanderError (exit 2) naming it.
 * `repeatable` names the options (by attribute name, e.g. `loadInto`) whose every value is kept; they are left alone.
 * Call it once the program's options are all declared.
 */
export function refuseRepeatedOptions(program: Command, repeatable: ReadonlySet<string> = new Set()): Command {
  const byAttribute = new Map<string, Option[]>();
  for (const option of program.options) {
    if (COMMANDER_OWN.has(option.name()) || option.variadic || repeatable.has(option.attributeName())) continue;
    byAttribute.set(option.attributeName(), [...byAttribute.get(option.attributeName()) ?? [], option]);
  }
  const seen = new Map<string, number>();
  for (const [attribute, options] of byAttribute) {
    for (const option of options) {
      // Before commander's own listener: the second value is refused, not parsed (nor refused for its spelling).
      // A Command is an EventEmitter (commander's typings leave prependListener out).
      (program as unknown as EventEmitter).prependListener(`option:${option.name()}`, () => {
        const count = (seen.get(attribute) ?? 0) + 1;
        seen.set(attribute, count);
        if (count > 1) {
          const why = options.some((candidate) => candidate.required || candidate.optional)
            ? ': it takes one value, and only the last would count (the others silently dropped)' : '';
          throw new CommanderError(2, 'cpsbackup.repeatedOption', `${spelling(options)} given more than once${why}; give it once`);
        }
      });
    }
  }
  for (const subcommand of program.commands) refuseRepeatedOptions(subcommand, repeatable);
  return program;
}
