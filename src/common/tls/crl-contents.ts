// Reads what a PEM revocation list says (its revoked serials, until when it is valid) for the log
// and to close connections already open when a reload revokes them. OpenSSL does the verifying.
import { certificateSerial, type CertificateSerial } from './certificate-serial';

const CRL_BLOCKS = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/g;

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;
const BIT_STRING = 0x03;
const OBJECT_IDENTIFIER = 0x06;
/** [0] EXPLICIT, constructed: a certificate's version. */
const EXPLICIT_VERSION = 0xa0;

export interface CrlContents {
  readonly revokedSerials: ReadonlySet<CertificateSerial>;
  /** The earliest nextUpdate of the lists in the file; undefined when none sets one. */
  readonly nextUpdate: Date | undefined;
  /** Each list of the file as signed: what a CA's key must verify (listSignedBy). */
  readonly signedLists: readonly SignedList[];
}

export interface SignedList {
  /** tbsCertList, header included: the signed bytes. */
  readonly signed: Buffer;
  /** The signature algorithm's OID, as the hex of its DER content. */
  readonly algorithm: string;
  readonly signature: Buffer;
  /** The list's issuer Name as DER: OpenSSL picks a CA's list by it. */
  readonly issuer: Buffer;
}

/** Throws an Error saying what is malformed; every CRL block of the file counts. */
export function crlContents(pem: Buffer): CrlContents {
  const revokedSerials = new Set<CertificateSerial>();
  const signedLists: SignedList[] = [];
  let nextUpdate: Date | undefined;
  for (const [, base64] of pem.toString('latin1').matchAll(CRL_BLOCKS)) {
    const list = readOne(Buffer.from(base64.replace(/\s+/g, ''), 'base64'));
    signedLists.push(list.signedList);
    for (const serial of list.serials) revokedSerials.add(serial);
    if (list.nextUpdate !== undefined && (nextUpdate === undefined || list.nextUpdate < nextUpdate)) nextUpdate = list.nextUpdate;
  }
  return { revokedSerials, nextUpdate, signedLists };
}

interface Element {
  readonly tag: number;
  readonly value: Buffer;
  /** Tag, length and value. */
  readonly raw: Buffer;
}

/** CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { [version], signature, issuer, thisUpdate, [nextUpdate], [revokedCertificates], [0] extensions }, … } */
function readOne(der: Buffer): { serials: CertificateSerial[]; nextUpdate: Date | undefined; signedList: SignedList } {
  const [certificateList] = elements(der);
  if (certificateList?.tag !== SEQUENCE) throw new Error('not a DER certificate list');
  const [tbs, algorithm, signature] = elements(certificateList.value);
  if (tbs?.tag !== SEQUENCE) throw new Error('no tbsCertList');
  const [oid] = algorithm?.tag === SEQUENCE ? elements(algorithm.value) : [];
  if (oid?.tag !== OBJECT_IDENTIFIER || signature?.tag !== BIT_STRING || signature.value.length < 2) throw new Error('no signature');
  const fields = elements(tbs.value);
  let index = fields[0]?.tag === INTEGER ? 1 : 0; // version
  if (fields[index + 1]?.tag !== SEQUENCE) throw new Error('no issuer');
  const signedList = { signed: tbs.raw, algorithm: oid.value.toString('hex'), signature: signature.value.subarray(1), issuer: fields[index + 1].raw };
  index += 2; // signature algorithm, issuer
  if (!isTime(fields[index]?.tag)) throw new Error('no thisUpdate');
  index += 1;
  let nextUpdate: Date | undefined;
  if (isTime(fields[index]?.tag)) {
    nextUpdate = timeOf(fields[index]);
    index += 1;
  }
  const serials: CertificateSerial[] = [];
  if (fields[index]?.tag === SEQUENCE) {
    for (const entry of elements(fields[index].value)) {
      const [serial] = elements(entry.value);
      if (serial?.tag !== INTEGER) throw new Error('a revoked entry without a serial');
      serials.push(certificateSerial(serial.value.toString('hex')));
    }
  }
  return { serials, nextUpdate, signedList };
}

/** A certificate's subject Name as DER (Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, signature, issuer, validity, subject, … } }). */
export function subjectNameOf(certificateDer: Buffer): Buffer {
  const [certificate] = elements(certificateDer);
  if (certificate?.tag !== SEQUENCE) throw new Error('not a DER certificate');
  const [tbs] = elements(certificate.value);
  if (tbs?.tag !== SEQUENCE) throw new Error('no tbsCertificate');
  const fields = elements(tbs.value);
  const subject = fields[fields[0]?.tag === EXPLICIT_VERSION ? 5 : 4];
  if (subject?.tag !== SEQUENCE) throw new Error('no subject');
  return subject.raw;
}

function isTime(tag: number | undefined): boolean {
  return tag === UTC_TIME || tag === GENERALIZED_TIME;
}

function timeOf(element: Element): Date {
  const text = element.value.toString('latin1');
  const match = element.tag === UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (match === null) throw new Error(`a time that is not UTC: ${text}`);
  const shortYear = Number(match[1]);
  // RFC 5280: UTCTime years 50–99 are 19xx, 00–49 are 20xx.
  const year = element.tag === UTC_TIME ? (shortYear >= 50 ? 1900 + shortYear : 2000 + shortYear) : shortYear;
  return new Date(Date.UTC(year, Number(match[2]) - 1, Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])));
}

/** The DER elements one after another in `bytes` (definite lengths only, as DER requires). */
function elements(bytes: Buffer): Element[] {
  const found: Element[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const start = offset;
    if (offset + 2 > bytes.length) throw new Error('truncated DER');
    const tag = bytes[offset];
    let length = bytes[offset + 1];
    offset += 2;
    if (length & 0x80) {
      const lengthBytes = length & 0x7f;
      if (lengthBytes === 0 || lengthBytes > 4 || offset + lengthBytes > bytes.length) throw new Error('bad DER length');
      length = bytes.readUIntBE(offset, lengthBytes);
      offset += lengthBytes;
    }
    if (offset + length > bytes.length) throw new Error('truncated DER');
    found.push({ tag, value: bytes.subarray(offset, offset + length), raw: bytes.subarray(start, offset + length) });
    offset += length;
  }
  return found;
}
