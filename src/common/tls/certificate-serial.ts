// A certificate's serial number in the one spelling cpsbackup compares, writes and shows: the CA's
// index and record, the server's revocation checks and log, the client's messages. Two spellings
// (one without leading zeros, one whole-byte) once gave openssl's index a serial of odd length.

/**
 * Upper-case hex of whole bytes, without leading zero bytes (at least one byte): what openssl writes
 * in its index and prints (`openssl x509 -serial`), so an operator finds a logged serial there as is.
 * Made only by certificateSerial(); a plain string is not one.
 */
export type CertificateSerial = string & { readonly isCertificateSerial: true };

/** openssl's forms: `serial=0A1B` (x509 -serial), `0a:1b` (x509 -text), `0x0A1B`, or bare hex in any case. */
const SERIAL_FORMS = /^(?:serial=)?(?:0x)?([0-9a-f]+(?::[0-9a-f]+)*)$/i;

/** The serial `text` spells (any of SERIAL_FORMS, leading zeros or not), or undefined when it spells none. */
export function parseCertificateSerial(text: string): CertificateSerial | undefined {
  const match = SERIAL_FORMS.exec(text.trim());
  if (match === null) return undefined;
  // With colons each group is a byte (openssl pads them; a group of one digit is one byte all the same).
  const groups = match[1].split(':');
  if (groups.length > 1 && groups.some((group) => group.length > 2)) return undefined;
  const digits = (groups.length > 1 ? groups.map((group) => group.padStart(2, '0')).join('') : groups[0]).toUpperCase().replace(/^0+/, '');
  if (digits === '') return '00' as CertificateSerial;
  return (digits.length % 2 === 0 ? digits : `0${digits}`) as CertificateSerial;
}

/** As parseCertificateSerial(), for text that must be a serial (a certificate's, an index line's): throws otherwise. */
export function certificateSerial(text: string): CertificateSerial {
  const serial = parseCertificateSerial(text);
  if (serial === undefined) throw new Error(`"${text.slice(0, 100)}" is not a certificate serial number in hex`);
  return serial;
}
