// Reads the verified client certificate's common name from a grpc-js server call.
// Only meaningful behind serverCredentials(), which rejects unverified peers at the handshake.
import type * as grpc from '@grpc/grpc-js';

/** Undefined when the call has no TLS peer certificate (which serverCredentials never allows). */
export function peerCommonName(call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>): string | undefined {
  const commonName = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  // node:tls gives an array when the subject holds the attribute twice: ambiguous, so refuse.
  return typeof commonName === 'string' && commonName !== '' ? commonName : undefined;
}
