// A certificate about to expire: from that day every peer refuses it and every backup fails, usually
// noticed only then (825 days after the set-up, by which time nobody remembers how it was made). Said
// ahead, at each backup, daemon job and server start, while there is time to renew it.
import { X509Certificate } from 'node:crypto';
import { readRegularFile } from '../config/regular-file';
import { CERTIFICATE_BLOCKS } from './ca-certificates';

/** How far ahead an expiry is announced. */
export const EXPIRY_NOTICE_DAYS = 30;

const DAY_MS = 24 * 60 * 60 * 1000;

/** "expires on … (in N days) …" when the certificate expires within EXPIRY_NOTICE_DAYS; undefined otherwise (also once expired: said elsewhere). */
export function expiryNotice(certificate: X509Certificate, now: number): string | undefined {
  const expires = Date.parse(certificate.validTo);
  if (!(expires >= now) || expires - now > EXPIRY_NOTICE_DAYS * DAY_MS) return undefined;
  const days = Math.floor((expires - now) / DAY_MS);
  return `expires on ${certificate.validTo} (${days === 0 ? 'within a day' : `in ${days} day${days === 1 ? '' : 's'}`}): `
    + 'from then on every peer refuses it; renew it before (see etc/ssl/README.md)';
}

/**
 * Notices for a configuration's ssl_cert and ssl_ca as the files are now (a renewed one stops them; files
 * that no longer parse are left to the TLS check).
 */
export function expiryNotices(files: { readonly sslCert: string; readonly sslCa: string }, now = Date.now()): string[] {
  return [{ what: 'ssl_cert', path: files.sslCert }, { what: 'ssl_ca', path: files.sslCa }].flatMap(({ what, path }) => {
    let certificates: X509Certificate[];
    try {
      const text = readRegularFile(path).toString('latin1');
      certificates = (text.match(CERTIFICATE_BLOCKS) ?? []).map((block) => new X509Certificate(block));
    } catch {
      return [];
    }
    return certificates.flatMap((certificate) => {
      const notice = expiryNotice(certificate, now);
      return notice === undefined ? [] : [`${what} ${path} ${notice}`];
    });
  });
}
