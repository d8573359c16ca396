// What the status port shows to a reader who is not trusted with details (no status token, and
// status_details = 0): counts, states and sizes. A warning or a failure names files on the client
// ("a skipped FIFO's name") or the server, and any local user can read a loopback port.
import type { StatusReport } from './status-report';

const HIDDEN_CHECK_ERROR = 'the check could not run (the message needs the status token or status_details = 1)';

/** Pure: the same report with every message and path removed; anomaly reasons stay (they are sizes and counts). */
export function withoutDetails(report: StatusReport): StatusReport {
  return {
    ...report,
    detailsHidden: true,
    clients: report.clients.map((client) => ({
      ...client,
      lastSuccess: client.lastSuccess === null ? null : { ...client.lastSuccess, warnings: [] },
      lastFailure: client.lastFailure === null ? null : { ...client.lastFailure, reason: null },
    })),
    lastCheck: report.lastCheck === undefined || report.lastCheck === null ? report.lastCheck
      : { ...report.lastCheck, error: report.lastCheck.error === null ? null : HIDDEN_CHECK_ERROR },
    objectStore: report.objectStore === undefined || report.objectStore === null ? report.objectStore
      : {
        ...report.objectStore, location: null,
        snapshots: report.objectStore.snapshots === null ? null : { ...report.objectStore.snapshots, lastError: report.objectStore.snapshots.lastError === undefined ? undefined : 'hidden (needs the status token or status_details = 1)' },
        // The problem names the bucket and the other server's host and folder.
        lease: report.objectStore.lease === null ? null
          : { ...report.objectStore.lease, problem: report.objectStore.lease.problem === null ? null : 'hidden (needs the status token or status_details = 1)' },
      },
  };
}
