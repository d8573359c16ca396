// The CLI face of the daemon: a log to stdout/stderr and log_file, SIGTERM/SIGINT to stop after
// the running job (a second one aborts it), SIGHUP logged and ignored, exit code 0 after a clean stop.
import type { NodeConfig } from '../../common/config/node-config';
import type { StorageConfig } from '../sources/storage-config';
import { stopRunningProcesses } from '../sources/child-process';
import { createDaemonLogger } from './daemon-log';
import { runDaemon } from './daemon';
import { withDaemonLock } from '../backup-lock';

export async function daemonMain(config: NodeConfig, storage: () => StorageConfig | undefined): Promise<number> {
  const logger = createDaemonLogger(config.logFile);
  const stop = new AbortController();
  const force = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!stop.signal.aborted) {
      logger.info(`${signal} received: no new jobs; waiting for the running one (send it again to abort it)`);
      stop.abort();
    } else {
      force.abort();
      // A loader, postprocess or hook knows nothing of the abort: its process group is stopped as -i's Ctrl-C stops it.
      const stopped = stopRunningProcesses();
      if (stopped > 0) logger.warn(`sent SIGTERM to ${stopped} running command${stopped === 1 ? '' : 's'} (loader, postprocess or script) of the aborted job`);
    }
  };
  // Its default action killed the daemon mid-job (a closed terminal, a reload sent out of habit). Reading
  // node.conf again is not done: a stop that is not asked for would leave Restart=on-failure nothing to restart.
  const onHangup = (): void => logger.warn('SIGHUP received: ignored (node.conf is read at start: restart the daemon to apply changes; '
    + 'SIGTERM stops it after the running job)');
  // Before anything is awaited: cpsbackup.ts leaves SIGINT to this handler from the moment it calls daemonMain.
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onHangup);
  try {
    // A backup loads the database dump plans on first use; a daemon loads them now, so a job at night
    // never meets files an in-place upgrade replaced since it started, nor a module missing since.
    await import('../sources/database-dump-plan');
    await withDaemonLock(config, () => runDaemon(config, { logger, storage, stopSignal: stop.signal, forceSignal: force.signal }),
      (message) => logger.warn(message));
    return 0;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onHangup);
  }
}
