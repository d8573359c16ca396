// The server's clients as loaded from clientconfdir at one moment: the accepted records, the
// refused ones and why. Immutable; a reload builds a new one (live-client-registry.ts).
import type { ClientRecord } from '../../common/config/client-record';
import { shown, shownPath } from '../../common/config/display';

/** A file in the clients folder that is not an accepted client; the server logs it, clients never see it. */
export interface RefusedRecord {
  /** The file's name, which would have been the client's name. */
  readonly name: string;
  readonly file: string;
  readonly line: number | undefined;
  /** For the server's log. */
  readonly problem: string;
  /** The ssl_peer_cn the file names, when one could be read: that certificate is refused too. */
  readonly claimedCommonName: string | undefined;
}

/** One file's reading: an accepted record, or a refusal. */
export type RecordReading = { readonly record: ClientRecord } | { readonly refused: RefusedRecord };

export type CommonNameLookup =
  | { readonly isAccepted: true; readonly record: ClientRecord }
  /** `why` is for the server's log only: it names files and keys of the server's configuration. */
  | { readonly isAccepted: false; readonly why: string };

export class ClientRegistry {
  private readonly byCommonName = new Map<string, ClientRecord>();
  private readonly recordsByName = new Map<string, ClientRecord>();
  private readonly refusedByCommonName = new Map<string, string>();
  readonly refused: readonly RefusedRecord[];

  /**
   * Two records claiming one certificate CN make that certificate ambiguous (either client's
   * backups, either client's rights), so every record claiming it is refused, including a
   * record refused for another reason: the operator's intent for that certificate is unclear.
   */
  constructor(readonly folder: string, readings: readonly RecordReading[], readonly ignored: readonly string[] = []) {
    const claimants = new Map<string, string[]>();
    const claim = (commonName: string | undefined, file: string): void => {
      if (commonName !== undefined) claimants.set(commonName, [...(claimants.get(commonName) ?? []), file]);
    };
    for (const reading of readings) {
      if ('record' in reading) claim(reading.record.sslPeerCn, reading.record.file);
      else claim(reading.refused.claimedCommonName, reading.refused.file);
    }
    const refused: RefusedRecord[] = [];
    for (const reading of readings) {
      if ('refused' in reading) {
        refused.push(reading.refused);
        continue;
      }
      const { record } = reading;
      const files = claimants.get(record.sslPeerCn) ?? [];
      if (files.length > 1) {
        refused.push({
          name: record.name, file: record.file, line: undefined, claimedCommonName: record.sslPeerCn,
          problem: `ssl_peer_cn "${shown(record.sslPeerCn)}" is also claimed by ${files.filter((file) => file !== record.file).map(shownPath).join(', ')}; `
            + 'a certificate must map to one client, so every record claiming it is refused',
        });
        continue;
      }
      this.byCommonName.set(record.sslPeerCn, record);
      this.recordsByName.set(record.name, record);
    }
    for (const record of refused) {
      if (record.claimedCommonName === undefined || this.refusedByCommonName.has(record.claimedCommonName)) continue;
      this.refusedByCommonName.set(record.claimedCommonName, `${locationOf(record)}: ${record.problem}`);
    }
    this.refused = Object.freeze(refused);
    Object.freeze(this);
  }

  /** Accepted client names, sorted. */
  get clientNames(): string[] {
    return [...this.recordsByName.keys()].sort();
  }

  get records(): ReadonlyMap<string, ClientRecord> {
    return this.recordsByName;
  }

  byName(name: string): ClientRecord | undefined {
    return this.recordsByName.get(name);
  }

  /** A file named `name` is in the folder but refused: its settings (retention, rights) are unknown. */
  isRefused(name: string): boolean {
    return this.refused.some((record) => record.name === name);
  }

  lookup(commonName: string): CommonNameLookup {
    const record = this.byCommonName.get(commonName);
    if (record !== undefined) return { isAccepted: true, record };
    const refusal = this.refusedByCommonName.get(commonName);
    if (refusal !== undefined) return { isAccepted: false, why: `certificate CN "${shown(commonName)}" is claimed by a refused record: ${refusal}` };
    // The usual slip: a record named after the client whose ssl_peer_cn is mistyped reads as no record at all.
    const namesake = this.recordsByName.get(commonName);
    if (namesake !== undefined) {
      return {
        isAccepted: false,
        why: `certificate CN "${shown(commonName)}" matches no client record: ${shownPath(namesake.file)} holds ssl_peer_cn = ${shown(namesake.sslPeerCn)}, `
          + `not ${shown(commonName)} (correct it, then send SIGHUP to the server)`,
      };
    }
    return {
      isAccepted: false,
      why: `certificate CN "${shown(commonName)}" matches no client record in ${shownPath(this.folder)} `
        + `(register it with a file there holding ssl_peer_cn = ${shown(commonName)}, then send SIGHUP to the server)`,
    };
  }
}

export function locationOf(record: RefusedRecord): string {
  return record.line === undefined ? shownPath(record.file) : `${shownPath(record.file)}:${record.line}`;
}
