// Whether a certificate the CA just issued outlives the CA: cpsbackup-ca issues for the days asked, but a
// certificate stops working when its CA does (new connections are refused then), so the operator is told.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { minuteUtc } from './ca-authority';

/** A note when the certificate in `certFile` ends after the CA certificate in `caCertFile`; undefined otherwise. */
export async function outlivesCaNote(certFile: string, caCertFile: string): Promise<string | undefined> {
  const [certificate, ca] = await Promise.all([certFile, caCertFile].map(async (file) => new X509Certificate(await readFile(file))));
  const [ends, caEnds] = [Date.parse(certificate.validTo), Date.parse(ca.validTo)];
  if (ends <= caEnds) return undefined;
  return `note: ${certFile} is valid until ${minuteUtc(new Date(ends))}, its CA only until ${minuteUtc(new Date(caEnds))}: `
    + 'it stops working when the CA ends (new connections are refused); make a new CA and new certificates before then';
}
