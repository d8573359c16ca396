// Who is calling, and whose backups they may touch: the verified certificate's CN must match a
// registered client's ssl_peer_cn; another client's backups need that client in restore_client.
import type * as grpc from '@grpc/grpc-js';
import { loadClientRecords, findClientByCommonName, type ClientRecord } from '../common/config/client-record';
import { peerCommonName } from '../common/tls/peer';
import { AuthError } from '../common/errors';

export type AuthenticatedCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

/** The clients folder is read on each call, so registering a client needs no restart (as burp). */
export function authenticate(call: AuthenticatedCall, clientsDirectory: string): ClientRecord {
  const commonName = peerCommonName(call);
  if (commonName === undefined) {
    throw new AuthError(`peer ${call.getPeer()} presented no usable client certificate`);
  }
  const client = findClientByCommonName(loadClientRecords(clientsDirectory), commonName);
  if (client === undefined) {
    throw new AuthError(`certificate CN "${commonName}" is not a registered client (no file in ${clientsDirectory} with ssl_peer_cn=${commonName})`);
  }
  return client;
}

export type Access = 'read' | 'delete';

/** Resolves the client whose backups a call targets; reading another's needs restore_client, deleting is never allowed. */
export function targetClientName(caller: ClientRecord, requested: string, access: Access): string {
  if (requested === '' || requested === caller.name) return caller.name;
  if (access === 'read' && caller.restoreClients.includes(requested)) return requested;
  throw new AuthError(access === 'read'
    ? `client "${caller.name}" may not read backups of client "${requested}" (the server needs restore_client=${requested} in the clients file of "${caller.name}")`
    : `client "${caller.name}" may not delete backups of client "${requested}"`);
}
