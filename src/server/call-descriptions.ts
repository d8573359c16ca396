// How a stopping server's log names a running call: the client by its record's name, and the backup it carries.
// An operator reads these lines to know whose backup or restore a stop waited for or cut.
import type * as grpc from '@grpc/grpc-js';
import { shown } from '../common/config/display';
import { peerCommonName } from '../common/tls/peer';
import type { Activity } from './activity';
import type { AcceptedNames } from './transport/mutual-tls-listener';

type Call = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>;

/** The client record's name (clients/web1 may hold ssl_peer_cn = node2), else the certificate's CN; read once, at the call's start. */
export function callerNameOf(call: Call, clients: AcceptedNames): string {
  const commonName = peerCommonName(call);
  if (commonName === undefined) return '(no usable certificate)';
  const lookup = clients.current.lookup(commonName);
  return lookup.isAccepted ? lookup.record.name : shown(commonName);
}

/** "backup 7 of client node2", or before its Begin "a backup of client node2 (not begun)". */
export function describeUpload(activity: Activity, clientName: string): () => string {
  // Remembered: the slot, and the number with it, is gone once the backup is committed or dropped.
  let backupNumber = 0;
  return () => {
    backupNumber ||= activity.progress(clientName)?.backupNumber ?? 0;
    return backupNumber === 0 ? `a backup of client ${clientName} (not begun)` : `backup ${backupNumber} of client ${clientName}`;
  };
}

/** "restore of backup 7 of client node2", "list of client node1 by client node2": what a call reads, and who asked. */
export function describeCall(method: string, callerName: string, request: { readonly backupId?: number; readonly clientName?: string }): () => string {
  const target = request.clientName === undefined || request.clientName === '' || request.clientName === callerName
    ? `client ${callerName}` : `client ${shown(request.clientName)} by client ${callerName}`;
  const backup = request.backupId === undefined ? '' : request.backupId === 0 ? 'the latest backup of ' : `backup ${request.backupId} of `;
  return () => `${method} of ${backup}${target}`;
}
