// What a receive leaves out of the replica's databases, and how it is said: dumps of the sender's
// sources no source here names, and sources named here that its backups do not hold. Exit 3, the daemon a warn line.
import type { ReceivedBackup, ReceiveResult } from './receiver';
import type { ReceiveState } from './receive-state';
import { isPartial } from '../partial-chain';

/** The state's record of the gaps after applying `applied` (oldest first) on top of `previous`. */
export function receiveGapsOf(previous: ReceiveState | undefined, applied: readonly ReceivedBackup[]): Pick<ReceiveState, 'unloadedSources' | 'absentSources'> {
  const fromComplete = applied.length > 0 && !isPartial(applied[0].backup);
  const unloaded = new Set(fromComplete ? [] : previous?.unloadedSources ?? []);
  for (const { unclaimedDumps } of applied) for (const { source } of unclaimedDumps) unloaded.add(source);
  const absent = applied.length === 0 ? previous?.absentSources ?? [] : applied[applied.length - 1].absentSources;
  return {
    ...(unloaded.size > 0 ? { unloadedSources: [...unloaded].sort() } : {}),
    ...(absent.length > 0 ? { absentSources: [...absent] } : {}),
  };
}

/**
 * One line per gap, for `warning: …` (CLI, exit 3) or `warn receive: …` (daemon): what this run left
 * out, or, when nothing was new, what the replica still lacks since the last backup applied.
 */
export function receiveGapWarnings(result: ReceiveResult, client: string, storageFile: string | undefined): string[] {
  const named = storageFile === undefined ? 'storage.conf' : storageFile;
  if (result.applied.length > 0) {
    return result.applied.flatMap(({ backup, unclaimedDumps, absentSources }) => [
      ...unclaimedDumps.map(({ path, source }) => `backup ${backup.backupId} of ${client}: ${path} not loaded: no source ${source} in ${named} (sources are matched by name)`),
      ...absentSources.map((source) => `backup ${backup.backupId} of ${client} holds no dump of source ${source}, which ${named} names: it stays as it was`),
    ]);
  }
  const state = result.previous;
  if (state === undefined) return [];
  return [
    ...(state.unloadedSources?.length ? [`${client}'s dumps of ${state.unloadedSources.join(', ')} are not loaded here since its last complete backup applied: no source of that name in ${named}`] : []),
    ...(state.absentSources?.length ? [`backup ${state.backupId} of ${client} holds no dump of ${state.absentSources.join(', ')}, which ${named} names: not loaded`] : []),
  ];
}
