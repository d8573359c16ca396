// The CA's revocation list as the server's TLS layer uses it: read at start, reread on SIGHUP.
// A list that cannot be used is refused whole: at start that stops the server, on reload the previous list stays.
import { createSecureContext } from 'node:tls';
import { shownPath } from '../../common/config/display';
import { FileProblem, readRegularFile } from '../../common/config/regular-file';
import { ConfigError, errorMessage } from '../../common/errors';
import { crlContents, type CrlContents } from '../../common/tls/crl-contents';

export interface RevocationSettings {
  readonly file: string;
  readonly sslCa: string;
  readonly sslCrl: string;
  readonly isSslCrlRequired: boolean;
}

/**
 * The file's lists, one PEM block each, for node:tls's `crl` option (which reads only the first list of
 * one buffer: the others in the file were silently not in force), and what they say; undefined when there
 * is no list (the default file is absent).
 */
export type RevocationList = { readonly pem: readonly string[]; readonly contents: CrlContents } | undefined;

const CRL_BLOCKS = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

/** Throws a ConfigError naming server.conf and the list when the list exists (or is required) and cannot be used. */
export function readRevocationList(settings: RevocationSettings, ca: Buffer): RevocationList {
  let pem: Buffer;
  try {
    pem = readRegularFile(settings.sslCrl);
  } catch (error) {
    if (error instanceof FileProblem && error.code === 'ENOENT' && !settings.isSslCrlRequired) return undefined;
    const problem = error instanceof FileProblem ? error.problem : errorMessage(error);
    throw new ConfigError(settings.file, undefined, `ssl_crl: ${shownPath(settings.sslCrl)} ${problem}`);
  }
  const lists = pem.toString('latin1').match(CRL_BLOCKS) ?? [];
  if (lists.length === 0) {
    throw new ConfigError(settings.file, undefined,
      `ssl_crl: ${shownPath(settings.sslCrl)} holds no PEM revocation list (-----BEGIN X509 CRL-----); write one with cpsbackup-ca crl`);
  }
  try {
    // OpenSSL parses it here, as the listener will: a damaged list is caught before it replaces a good one.
    createSecureContext({ ca, crl: lists });
  } catch (error) {
    throw new ConfigError(settings.file, undefined, `ssl_crl: ${shownPath(settings.sslCrl)} cannot be used: ${errorMessage(error)}`);
  }
  try {
    return { pem: lists, contents: crlContents(pem) };
  } catch (error) {
    throw new ConfigError(settings.file, undefined, `ssl_crl: ${shownPath(settings.sslCrl)} cannot be read: ${errorMessage(error)}`);
  }
}

/** One line for the server's log at start and on reload; isExpired: OpenSSL will refuse every client. */
export function describeRevocationList(settings: RevocationSettings, list: RevocationList, now = Date.now()): { text: string; isExpired: boolean } {
  if (list === undefined) return { text: `no revocation list: ${shownPath(settings.sslCrl)} does not exist (cpsbackup-ca revoke writes it)`, isExpired: false };
  const { revokedSerials, nextUpdate } = list.contents;
  const isExpired = nextUpdate !== undefined && nextUpdate.getTime() < now;
  const validity = nextUpdate === undefined ? '' : isExpired
    ? `; it EXPIRED on ${nextUpdate.toISOString()}, so every client is refused: rewrite it with cpsbackup-ca crl, then SIGHUP`
    : `, valid until ${nextUpdate.toISOString()}`;
  return { text: `revocation list ${shownPath(settings.sslCrl)} in force: ${revokedSerials.size} revoked${validity}`, isExpired };
}
