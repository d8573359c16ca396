// node.conf's ssl_crl: the CA's revocation list a node checks the server's certificate against, read
// and tried with ssl_ca when the config loads and again for each connection's TLS context.
import { createSecureContext } from 'node:tls';
import { ConfigError, errorMessage } from '../errors';
import { shownPath } from '../config/display';
import { FileProblem, readRegularFile } from '../config/regular-file';
import { crlContents } from './crl-contents';
import { checkListIssuer } from './ca-certificates';

const CRL_BLOCKS = /-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g;

interface NodeRevocationSettings {
  readonly file: string;
  readonly sslCert: string;
  readonly sslKey: string;
  readonly sslCa: string;
  readonly sslCrl: string | undefined;
}

/**
 * ssl_crl's lists, one PEM block each (node:tls reads only the first list of one buffer); undefined
 * without ssl_crl. A list OpenSSL could not use for ssl_ca's CA (none in the file, damaged, another CA's,
 * a bad signature, past its nextUpdate) is a ConfigError naming node.conf and `line`: with it every
 * connection would fail, and an expired one failed as "cannot reach the backup server", which the daemon
 * retried as a network fault night after night. Checked at load and again for each connection's context.
 */
export function nodeRevocationList(config: NodeRevocationSettings, line?: number, now = Date.now()): string[] | undefined {
  const { file, sslCrl } = config;
  if (sslCrl === undefined) return undefined;
  const refuse = (problem: string): ConfigError => new ConfigError(file, line, `ssl_crl: ${shownPath(sslCrl)} ${problem}`);
  let pem: Buffer;
  let ca: Buffer;
  try {
    pem = readRegularFile(sslCrl);
    ca = readRegularFile(config.sslCa);
  } catch (error) {
    if (error instanceof FileProblem) throw refuse(error.problem);
    throw error;
  }
  const lists = pem.toString('latin1').match(CRL_BLOCKS) ?? [];
  if (lists.length === 0) throw refuse('holds no PEM revocation list (-----BEGIN X509 CRL-----): copy the CA\'s crl.pem there');
  let nextUpdate: Date | undefined;
  try {
    createSecureContext({ ca, crl: lists });
    const contents = crlContents(pem);
    checkListIssuer({ ...config, sslCrl }, { contents }, ca);
    nextUpdate = contents.nextUpdate;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(file, line, error.problem);
    throw refuse(`cannot be used: ${errorMessage(error)}`);
  }
  if (nextUpdate !== undefined && nextUpdate.getTime() < now) {
    throw refuse(`expired on ${nextUpdate.toISOString()}, so OpenSSL would refuse every server: copy the CA's current crl.pem there `
      + '(cpsbackup-ca crl writes a new one)');
  }
  return lists;
}
