// The ReportFailure call: a backup that failed on the client before its Upload reached the server
// (a pre script, a dump source that cannot connect, a broken storage.conf) is recorded as that
// client's failed attempt, so the status port shows it failed and the failure notification goes.
import type * as grpc from '@grpc/grpc-js';
import { BackupKind, type FailureReport, type FailureReportAck } from '../proto/cpsbackup';
import type { ServerContext } from './server-context';
import { authenticate } from './auth';
import { toServiceError } from './grpc-errors';
import { receivedAbortReason } from './received-text';

export function handleReportFailure(context: ServerContext, call: grpc.ServerUnaryCall<FailureReport, FailureReportAck>,
  callback: grpc.sendUnaryData<FailureReportAck>): void {
  let clientName = '?';
  try {
    // Only the caller's own attempts: the name comes from its certificate, never from the message.
    clientName = authenticate(call, context.clients).name;
    const { reason, kind, isScheduled } = call.request;
    const kindName = kind === BackupKind.BACKUP_KIND_PARTIAL ? 'partial' : 'complete';
    const which = `${kindName} ${isScheduled ? 'scheduled' : 'forced'} backup`;
    // Cut and escaped like an Abort's reason: the client's text reaches the log, notifications and /status.
    const said = `${which} failed on the client before it reached the server: ${receivedAbortReason(reason === '' ? 'no reason given' : reason)}`;
    const heldBack = context.activity.failureReportLog.admit(clientName, Date.now());
    if (heldBack !== undefined) context.logger.warn(`client ${clientName}: ${said}${heldBack === 0 ? '' : ` (and ${heldBack} earlier reports not logged)`}`);
    context.activity.record({ clientName, backupNumber: 0, isSuccess: false, at: Date.now(), reason: said, kind: kindName });
    callback(null, {});
  } catch (error) {
    callback(toServiceError(error, context.logger, `failure report from ${clientName}`));
  }
}
