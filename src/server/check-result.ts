// The latest scheduled check as /status shows it: a plain shape both the check and the status port use.

/** What /status shows of the latest scheduled check. */
export interface LastCheck {
  readonly at: string;
  readonly durationSeconds: number;
  readonly isClean: boolean;
  readonly damagedChunks: number;
  readonly damagedContents: number;
  readonly affectedFiles: number;
  readonly affectedBackups: number;
  readonly problems: number;
  readonly chunksRead: number;
  readonly readDataPercent: number;
  /** Set when the check itself could not run (an I/O error, say): isClean is then false. */
  readonly error: string | null;
}
