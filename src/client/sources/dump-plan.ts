// One dumper to start: the program and arguments, its environment and stdin, and the FIFO it writes.

export interface DumpPlan {
  readonly fileName: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the dumper's stdin (a script: it stays out of argv and ps). */
  readonly input?: string;
}
