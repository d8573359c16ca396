// Starts the gRPC backup server on the configured address with mutual TLS, over an opened store.
// Returns a handle whose stop() waits for in-flight calls (up to stop_timeout) and closes the store.
import { handleReportFailure } from './failure-report-handler';
import * as grpc from '@grpc/grpc-js';
import type { BackupServer } from '../proto/cpsbackup';
import { FastBackupService } from '../common/wire/fast-service';
import type { ServerConfig } from '../common/config/server-config';
import type { Logger } from '../common/logger';
import { maxMessageBytes } from '../common/tls/credentials';
import { openConfiguredStore } from './open-store';
import { Activity } from './activity';
import { PatternSlots } from './pattern/pattern-slots';
import { Maintenance } from './maintenance';
import type { ServerContext } from './server-context';
import { handleUpload } from './upload-handler';
import { handleRestore } from './restore-handler';
import { handleDelete, handleProtect, handleShow } from './catalog-handlers';
import { handleList } from './list-handler';
import { handleParent } from './parent-handler';
import { handleDiff } from './browse/diff-handler';
import { handleFind } from './browse/find-handler';
import { startStatusServer, type RunningStatusServer } from './status/status-server';
import { Notifier } from './notify/notifier';
import { NotificationRules } from './notify/notification-rules';
import { ScheduledCheck } from './scheduled-check';
import { CertificateWatch } from './certificate-watch';
import { LiveClientRegistry } from './clients/live-client-registry';
import { checkRevocationListAtStart, listenWithMutualTls, type MutualTlsListener } from './transport/mutual-tls-listener';
import { networkTimeoutPings } from '../common/network-timeout';
import { drainLimitFor, withDrainLimit } from './drain-limit';
import { RunningCalls } from './running-calls';
import { callerNameOf, describeCall, describeUpload } from './call-descriptions';

/** Twice what a cpsbackup process needs at once. */
const MAX_STREAMS_PER_CONNECTION = 4;

export interface RunningServer {
  readonly context: ServerContext;
  readonly port: number;
  /** The status port (dashboard, /status, /metrics) started next to gRPC. */
  readonly status: RunningStatusServer;
  /**
   * SIGHUP: rereads the clients folder, and the TLS files (certificate, key, CA, revocation list) for the
   * next handshakes on both ports; each keeps its previous state when unusable.
   */
  reload(): void;
  /**
   * Refuses new calls ("the server is stopping"), waits for the running ones up to stop_timeout (or
   * cutRunningCalls()), then cuts those left, closes the connections and the store, and logs "stopped".
   */
  stop(reason?: string): Promise<void>;
  /** A second SIGTERM or SIGINT during stop(): the running calls are cut now instead of at stop_timeout. */
  cutRunningCalls(): void;
}

export async function startBackupServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const startedAt = Date.now();
  // Before the store: an unusable clients folder stops the start with nothing opened.
  const clients = LiveClientRegistry.load(config, logger);
  checkRevocationListAtStart(config);
  const store = await openConfiguredStore(config, { logger });
  const recovery = store.recovery;
  if (recovery.droppedBackups + recovery.droppedChunks + recovery.removedOrphanPacks > 0) {
    logger.warn(`recovered the store: dropped ${recovery.droppedBackups} unfinished backups, ${recovery.droppedChunks} unreadable chunks, ${recovery.removedOrphanPacks} orphan packs`);
  }
  // Not a warning: a cover pack never held anything (a crash between its put and its delete).
  if (recovery.removedCoverPacks > 0) logger.info(`deleted ${recovery.removedCoverPacks} cover packs a stop left behind`);
  const maintenance = new Maintenance(store, config, logger, clients);
  const context: ServerContext = { config, store, logger, activity: new Activity(config.maxChildren, config.networkTimeoutSeconds), maintenance, clients, patternSlots: new PatternSlots() };
  // Every call that streams replies waits for its client at most idle_timeout (drain-limit.ts says why).
  const limited = <S extends Parameters<typeof drainLimitFor>[0]>(call: S): S => withDrainLimit(call, drainLimitFor(call, config.idleTimeoutSeconds, 'idle_timeout'));
  // Every call is tracked from its start to the end of its handler: a stop waits for them (running-calls.ts).
  const calls = new RunningCalls(logger);
  const callerOf = (call: Parameters<typeof callerNameOf>[0]): string => callerNameOf(call, clients);
  const implementation: BackupServer = {
    upload: (call) => calls.runStreaming(call, describeUpload(context.activity, callerOf(call)), () => handleUpload(context, limited(call))),
    parent: (call) => calls.runStreaming(call, describeCall('parent', callerOf(call), call.request), () => handleParent(context, limited(call))),
    restore: (call) => calls.runStreaming(call, describeCall('restore', callerOf(call), call.request), () => handleRestore(context, limited(call))),
    list: (call) => calls.runStreaming(call, describeCall('list', callerOf(call), call.request), () => handleList(context, limited(call))),
    show: (call) => calls.runStreaming(call, describeCall('show', callerOf(call), call.request), () => handleShow(context, limited(call))),
    delete: (call, callback) => calls.runUnary(callback, describeCall('delete', callerOf(call), call.request), (answer) => handleDelete(context, call, answer)),
    protect: (call, callback) => calls.runUnary(callback, describeCall('protect', callerOf(call), call.request), (answer) => handleProtect(context, call, answer)),
    diff: (call) => calls.runStreaming(call, describeCall('diff', callerOf(call), { clientName: call.request.clientName }), () => handleDiff(context, limited(call))),
    find: (call) => calls.runStreaming(call, describeCall('find', callerOf(call), call.request), () => handleFind(context, limited(call))),
    reportFailure: (call, callback) => calls.runUnary(callback, describeCall('failure report', callerOf(call), {}), (answer) => handleReportFailure(context, call, answer)),
  };
  const server = new grpc.Server({
    'grpc.max_receive_message_length': maxMessageBytes,
    'grpc.max_send_message_length': maxMessageBytes,
    // network_timeout's pings (network-timeout.ts). On Node 20 a client killed mid-call can leave its session
    // wedged: no socket close, no stream close, and the ping's own write gets no error (seen 2 runs in 22 of
    // e2e-interrupted; most likely nodejs/node#55804, a write to a broken TLS socket that never completes while
    // the session reads nothing until it does). The ping's timeout is what ends such a session. With the 60 s
    // pings of before, the killed client's backup held its slot for 80 s, and its next -e was refused as
    // "already running" meanwhile. Not shorter by default: a ping's answer waits behind the upload already in
    // flight, up to the 2 MiB receive window (receive-window.ts): 17 s at 1 Mbit/s.
    ...networkTimeoutPings(config.networkTimeoutSeconds),
    // grpc-js buffers each stream's partial message up to 4 MiB: without a cap, memory grew with the streams a
    // connection opened. A cpsbackup process runs at most two calls at once (a backup's Parent and Upload); an
    // honest client queues any beyond the cap on its side, a client that ignores it gets them refused.
    'grpc.max_concurrent_streams': MAX_STREAMS_PER_CONNECTION,
  });
  server.addService(FastBackupService, implementation);
  let listener: MutualTlsListener;
  try {
    // Its backups never reach a call: without this the status page said "ok" while a revoked or expired
    // certificate refused every one (notified like any failure, at most once per 10 minutes).
    listener = await listenWithMutualTls(server, config, logger, clients, (clientName, reason) => context.activity.record({
      clientName, backupNumber: 0, isSuccess: false, at: Date.now(), reason: `its connection was refused: ${reason}`, kind: 'complete',
    }));
  } catch (error) {
    await store.close();
    throw error;
  }
  const notifier = new Notifier({ script: config.notifyScript, webhook: config.notifyWebhook }, logger);
  const scheduledCheck = new ScheduledCheck(context, notifier);
  let status: RunningStatusServer;
  try {
    status = await startStatusServer(context, startedAt, { lastCheck: () => scheduledCheck.lastCheck, stopping: () => calls.stopping() });
  } catch (error) {
    listener.close();
    server.forceShutdown();
    await store.close();
    throw error;
  }
  const notificationRules = new NotificationRules(context, notifier, startedAt);
  if (notifier.isConfigured) notificationRules.start();
  // What recovery dropped, or what a collection cut short by a stop or a failure left behind.
  if (recovery.droppedBackups > 0) maintenance.scheduleGarbageCollection();
  else maintenance.collectAtStart();
  scheduledCheck.start();
  const certificates = new CertificateWatch(config, logger);
  certificates.start();
  const port = listener.port;
  logger.info(`listening on ${config.address}:${port}`);
  return {
    context,
    port,
    status,
    reload() {
      clients.reload();
      listener.reload();
      status.useIdentity(listener.identity);
    },
    cutRunningCalls() {
      calls.cutNow();
    },
    async stop(reason = 'asked to stop') {
      const stopStartedAt = performance.now();
      // No new check from here; one in progress holds the store's lock and is awaited before the store closes.
      const checkStopped = scheduledCheck.stop();
      certificates.stop();
      // The port stays open meanwhile: a client that connects or calls now is told that the server is stopping,
      // not refused as if it were down or its certificate wrong.
      const outcome = await calls.stop(reason, config.stopTimeoutSeconds * 1000, `stop_timeout = ${config.stopTimeoutSeconds} s`);
      await new Promise<void>((resolve) => {
        // Not waiting for tryShutdown's callback after forcing: when a client died while its call waited on
        // backpressure, grpc-js never saw the session close and the callback never came (the server hung on SIGTERM).
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 5000);
        // tryShutdown before the listener's close, whose injector.destroy() closes the sessions too: grpc-js takes a
        // session it was already closing for closed (session.closed is true from close() on) and called back at once,
        // and the store was closed under a running backup, which the process's exit then cut.
        server.tryShutdown(() => { clearTimeout(timer); resolve(); });
        listener.close();
      });
      // A cut call's handler may have seen its connection close only now: it drops its work before the store closes.
      await calls.settle();
      // After gRPC: the outcomes of uploads that ended during shutdown are still notified.
      notificationRules.stop();
      await status.stop();
      await maintenance.stop();
      await checkStopped;
      await notifier.idle();
      await store.close();
      const seconds = ((performance.now() - stopStartedAt) / 1000).toFixed(1);
      const cut = outcome.cut.length === 0 ? 'none cut' : `cut ${outcome.cut.length}: ${outcome.cut.join('; ')}`;
      logger.info(`stopped after ${seconds} s (waited for ${outcome.waitedFor.length} running call${outcome.waitedFor.length === 1 ? '' : 's'}, ${cut}); the store is closed`);
    },
  };
}
