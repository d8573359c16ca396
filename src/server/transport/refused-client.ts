// A client whose certificate the handshake refused (revoked, expired, not yet valid) was "ok" on the
// status page for as long as its old backups were recent: its backups failed before any call, and the
// server never counted them. Such a refusal is the named client's failed attempt, but only when the
// certificate really is one our CA issued to that name: anyone can send a self-made certificate with
// any CN, and must not be able to mark another client failed.
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { CERTIFICATE_BLOCKS, isIssuedByOneOf } from '../../common/tls/ca-certificates';

/** The CN the refused certificate was issued to by `caPem`'s CA, or undefined when it was not (or cannot be told). */
export function refusedClientName(socket: tls.TLSSocket, caPem: Buffer): string | undefined {
  try {
    const peer = socket.getPeerX509Certificate();
    if (peer === undefined) return undefined;
    // Every CA of the bundle (a rollover has the old and the new one), not only the first block.
    const cas = (caPem.toString('latin1').match(CERTIFICATE_BLOCKS) ?? []).map((block) => new X509Certificate(block));
    if (!isIssuedByOneOf(peer, cas)) return undefined;
    // Read as an accepted connection's CN is (a string; node:tls gives an array for a subject with two).
    const commonName = socket.getPeerCertificate().subject?.CN;
    return typeof commonName === 'string' && commonName !== '' ? commonName : undefined;
  } catch {
    return undefined;
  }
}
