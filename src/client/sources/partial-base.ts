// The `since` of a partial backup together with the labels of the backup it follows, whose
// per-table marks tell database sources where each table's new rows start.

/**
 * A Date, so it travels unchanged wherever a partial backup's `since` goes (the uploader hands
 * `partialSince` to startDumps); database sources read `labels`, the others only the time.
 */
export class PartialBase extends Date {
  /** followsBackupId: the backup whose dump start this is, which the partial backup continues (0: not known). */
  constructor(time: number, readonly labels: Readonly<Record<string, string>>, readonly followsBackupId = 0) {
    super(time);
  }
}

/** The base backup's labels, or undefined for a plain Date (then tables with a since_field are dumped whole). */
export function baseLabelsOf(partialSince: Date | undefined): Readonly<Record<string, string>> | undefined {
  return partialSince instanceof PartialBase ? partialSince.labels : undefined;
}
