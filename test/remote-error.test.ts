// Errors of a call, as the client shows them: the server's typed errors keep their type and message,
// and a message this client could not encode or decode is said to be this client's, not the server's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { fromServiceError, ServerUnreachableError } from '../src/client/remote-error';
import { BackupError, DiskFullError, LimitError, ProtocolError } from '../src/common/errors';

function status(code: grpc.status, details: string, errorCode?: string): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (errorCode !== undefined) metadata.set('cpsbackup-error-code', errorCode);
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata });
}

test("grpc-js's local encode and decode failures are this client's, never \"server error\"", () => {
  // The wording grpc-js gives them (client-interceptors.js), with the codec's own reason after it.
  const encode = fromServiceError(status(grpc.status.INTERNAL, 'Request message serialization failure: mtimeNsec -5 is not an integer from 0 to 2^32 - 1'), 'server:1');
  assert.ok(encode instanceof ProtocolError);
  assert.equal(encode.message, 'this client could not encode a message to the server: mtimeNsec -5 is not an integer from 0 to 2^32 - 1');
  const decode = fromServiceError(status(grpc.status.INTERNAL, 'Response message parsing error: field 0 is not a field'), 'server:1');
  assert.ok(decode instanceof ProtocolError);
  assert.equal(decode.message, 'this client could not read a message from the server: field 0 is not a field');
});

test("the server's own errors keep their type, and an untyped one is the server's", () => {
  const full = fromServiceError(status(grpc.status.RESOURCE_EXHAUSTED, 'the store is full', 'DISK_FULL'), 'server:1');
  assert.ok(full instanceof DiskFullError);
  assert.equal(full.message, 'the store is full');
  const internal = fromServiceError(status(grpc.status.INTERNAL, 'internal server error (see the server log)'), 'server:1');
  assert.ok(internal instanceof BackupError);
  assert.equal(internal.message, 'server error: internal server error (see the server log)');
  assert.ok(fromServiceError(status(grpc.status.UNAVAILABLE, 'No connection established'), 'server:1') instanceof ServerUnreachableError);
});

test('a connection lost mid-call and one never made within network_timeout are said as such; only the first is probed for a refused certificate', () => {
  // grpc-js's words: a transport dropped under running calls (a ping unanswered among the causes), and the
  // calls of a channel closed while connecting (connection.ts closes one after network_timeout).
  const dropped = fromServiceError(status(grpc.status.UNAVAILABLE, 'Connection dropped'), 'backup.lan:4200');
  assert.ok(dropped instanceof ServerUnreachableError);
  assert.equal(dropped.message, 'the connection to the backup server at backup.lan:4200 dropped: the server stopped, the network failed, '
    + 'or the server answered nothing, not even a ping, for network_timeout (node.conf)');
  // The server closes the connections of a certificate it revokes: such a drop may be a refusal.
  assert.equal(dropped.mayBeCertificateRefusal, true);
  const neverMade = fromServiceError(status(grpc.status.UNAVAILABLE, 'Channel closed before call started'), 'backup.lan:4200');
  assert.ok(neverMade instanceof ServerUnreachableError);
  assert.equal(neverMade.message, 'no connection to the backup server at backup.lan:4200 within network_timeout (node.conf): '
    + 'its host is down or unreachable, or the server is frozen or overloaded');
  assert.equal(neverMade.mayBeCertificateRefusal, false);
  const refusedAtConnect = fromServiceError(status(grpc.status.UNAVAILABLE, 'read ECONNRESET'), 'backup.lan:4200');
  assert.ok(refusedAtConnect instanceof ServerUnreachableError);
  assert.match(refusedAtConnect.message, /^cannot reach the backup server at backup\.lan:4200: read ECONNRESET \(is it running, and do the certificates match\?\)$/);
  assert.equal(refusedAtConnect.mayBeCertificateRefusal, true);
});

// Regression (operator review): a server_name that is not in the server's certificate gave Node's raw words and
// "do the certificates match?", not the setting to correct.
test('a server certificate not issued for server_name points at server_name', () => {
  const detail = 'No connection established. Last error: Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match '
    + 'certificate\'s altnames: Host: backup.lan. is not in the cert\'s altnames: DNS:localhost';
  const wrongName = fromServiceError(status(grpc.status.UNAVAILABLE, detail), 'backup.lan:4200');
  assert.ok(wrongName instanceof ServerUnreachableError);
  assert.match(wrongName.message, /DNS:localhost \(the server's certificate is not issued for the name this node checks: server_name in node\.conf \(or server, when server_name is unset\) must be one of the certificate's names, listed above as its altnames\)$/);
});

test('an HTTP/2 ENHANCE_YOUR_CALM from the server names its two causes, not memory run out on the server', () => {
  const reset = fromServiceError(status(grpc.status.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded'), 'backup.lan:4200');
  assert.ok(reset instanceof LimitError);
  assert.match(reset.message, /^the server at backup\.lan:4200 ended the call: this node already had max_connections_per_client connections open .*idle_timeout/);
});

test('a handshake refusing the server\'s certificate says which certificate and the likely cause: a clock, another CA, the status port', () => {
  const said = (detail: string): string => fromServiceError(status(grpc.status.UNAVAILABLE, detail), 'backup.lan:4200').message;
  assert.match(said('No connection established. Last error: certificate is not yet valid. Resolution note: '),
    /: No connection established\. Last error: certificate is not yet valid\. \(the server's certificate is not valid yet by this machine's clock \(\d{4}-\d\d-\d\dT[\d:.]+Z\): is this clock, or the server's, wrong\?\)$/);
  assert.match(said('certificate has expired'), /\(the server's certificate has expired by this machine's clock \(.*\): renew it \(cpsbackup-ca server\), or check this clock\)$/);
  assert.match(said('self-signed certificate in certificate chain'), /\(the server's certificate is not signed by the CA in ssl_ca \(node\.conf\)/);
  assert.match(said('1C8B0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:350:'),
    /\(what answers at that port does not speak TLS: is port \(node\.conf\) the server's port, not its status_port\?\)$/);
});
