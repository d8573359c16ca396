// Who is calling, and whose backups they may touch: the verified certificate's CN must match an
// accepted client record; another client's backups need that client in restore_client.
// Refusals tell the client only that it was refused; the reason (files, keys) goes to the server log.
import type * as grpc from '@grpc/grpc-js';
import { RIGHT_KEYS, type ClientRecord, type ClientRights } from '../common/config/client-record';
import { shown, shownPath } from '../common/config/display';
import { peerCommonName } from '../common/tls/peer';
import { AuthError } from '../common/errors';
import type { ClientRegistrySource } from './clients/live-client-registry';

export type AuthenticatedCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext' | 'getPeer'>;

/** Reads the registry once: a SIGHUP during the call does not change who the caller is. */
export function authenticate(call: AuthenticatedCall, clients: ClientRegistrySource): ClientRecord {
  const commonName = peerCommonName(call);
  if (commonName === undefined) {
    throw new AuthError('no usable client certificate', `peer ${call.getPeer()} presented no usable client certificate`);
  }
  const lookup = clients.current.lookup(commonName);
  if (!lookup.isAccepted) {
    throw new AuthError(`certificate CN "${shown(commonName)}" is not accepted by this server (the reason is in the server's log)`, lookup.why);
  }
  return lookup.record;
}

export type Access = 'read' | 'delete';

/** Resolves the client whose backups a call targets; reading another's needs restore_client, deleting is never allowed. */
export function targetClientName(caller: ClientRecord, requested: string, access: Access): string {
  if (requested === '' || requested === caller.name) return caller.name;
  if (access === 'read' && caller.restoreClients.includes(requested)) return requested;
  if (access === 'read') {
    throw new AuthError(`client "${caller.name}" may not read backups of client "${shown(requested)}"`,
      `to allow it, add restore_client = ${shown(requested)} to ${shownPath(caller.file)} and send SIGHUP to the server`);
  }
  throw new AuthError(`client "${caller.name}" may not delete backups of client "${shown(requested)}"`);
}

const RIGHT_ACTIONS: Readonly<Record<keyof ClientRights, string>> = {
  canDelete: 'delete backups or unprotect one',
  canList: 'list backups, show, diff or find their files',
  canRestore: 'restore backups',
  canForceBackup: 'start a backup outside its schedule (cpsbackup -e); only the daemon\'s scheduled backups are accepted',
};

/**
 * Refuses a call the caller's record does not allow, naming the right it lacks (and `action`, what the
 * call would have done, when it is not the right's usual one): the key is burp's,
 * known to the client's operator, and says nothing about the server's files.
 */
export function requireRight(caller: ClientRecord, right: keyof ClientRights, action = RIGHT_ACTIONS[right]): void {
  requireRights(caller, [right], action);
}

/** A call that needs several rights: every one it lacks is named in the one refusal, so a single edit allows it. */
export function requireRights(caller: ClientRecord, rights: readonly (keyof ClientRights)[], action: string): void {
  const keys = rights.filter((right) => !caller.rights[right]).map((right) => RIGHT_KEYS[right]);
  if (keys.length === 0) return;
  throw new AuthError(`client "${caller.name}" may not ${action}: ${keys.map((key) => `${key} = 0`).join(' and ')} in its record on the server`,
    `set ${keys.map((key) => `${key} = 1`).join(' and ')} in ${shownPath(caller.file)} and send SIGHUP to allow it`);
}
