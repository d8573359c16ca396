// Which options go with which mode, as --help says ("with -i: …"): an option a mode does not read was
// taken silently (`-e --to /x`, `-d 13 --json`), and the operator believed it had done something.

/** The mode chosen, by its option's name. */
export type ModeName = 'export' | 'list' | 'show' | 'import' | 'delete' | 'protect' | 'unprotect' | 'diff' | 'find' | 'daemon';

interface OptionRule {
  readonly flag: string;
  readonly modes: readonly ModeName[];
  readonly isGiven: (options: Record<string, unknown>) => boolean;
}

const given = (key: string) => (options: Record<string, unknown>): boolean => options[key] !== undefined;

const RULES: readonly OptionRule[] = [
  { flag: '--to', modes: ['import'], isGiven: given('to') },
  { flag: '--overwrite', modes: ['import'], isGiven: given('overwrite') },
  { flag: '--include', modes: ['import'], isGiven: given('include') },
  { flag: '-r/--regex', modes: ['import'], isGiven: given('regex') },
  { flag: '--strip', modes: ['import'], isGiven: given('strip') },
  { flag: '--load/--no-load', modes: ['import'], isGiven: given('load') },
  { flag: '--load-into', modes: ['import'], isGiven: given('loadInto') },
  { flag: '--if-new', modes: ['import'], isGiven: given('ifNew') },
  { flag: '--json', modes: ['list', 'show', 'diff', 'find'], isGiven: given('json') },
  { flag: '--client', modes: ['list', 'show', 'import', 'delete', 'diff', 'find'], isGiven: given('client') },
  { flag: '--force', modes: ['delete'], isGiven: given('force') },
  { flag: '--partial', modes: ['export'], isGiven: given('partial') },
];

const MODE_FLAGS: Readonly<Record<ModeName, string>> = {
  export: '-e', list: '-l', show: '-s', import: '-i', delete: '-d', protect: '--protect', unprotect: '--unprotect',
  diff: '--diff', find: '--find', daemon: 'daemon',
};

/** The usage error for the first option given that the mode does not take, or undefined. */
export function misplacedOption(options: Record<string, unknown>, mode: ModeName): string | undefined {
  const rule = RULES.find((candidate) => candidate.isGiven(options) && !candidate.modes.includes(mode));
  if (rule === undefined) return undefined;
  return `${rule.flag} goes with ${rule.modes.map((name) => MODE_FLAGS[name]).join(', ')}, not with ${MODE_FLAGS[mode]}: it would do nothing here`;
}
