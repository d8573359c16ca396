// What a receive leaves out of the replica's databases, and how it is said: dumps of the sender's
// sources no source here names, and sources named here that its backups do not hold. Exit 3, the daemon a warn line.
import type { ReceivedBackup, ReceiveResult } from './receiver';
import type { ReceiveState } from './receive-state';
import { isPartial } from '../partial-chain';

/** The state's record of the gaps after applying `applied` (oldest first) on top of `previous`. */
export function receiveGapsOf(previous: ReceiveState | undefined, applied: readonly ReceivedBackup[]): Pick<ReceiveState, 'unloadedSources' | 'absentSources' | 'skippedSources'> {
  const fromComplete = applied.length > 0 && !isPartial(applied[0].backup);
  const unloaded = new Set(fromComplete ? [] : previous?.unloadedSources ?? []);
  const skipped = new Set(fromComplete ? [] : previous?.skippedSources ?? []);
  for (const { unclaimedDumps, skippedSources } of applied) {
    for (const { source } of unclaimedDumps) unloaded.add(source);
    for (const source of skippedSources) skipped.add(source);
  }
  const absent = applied.length === 0 ? previous?.absentSources ?? [] : applied[applied.length - 1].absentSources;
  return {
    ...(unloaded.size > 0 ? { unloadedSources: [...unloaded].sort() } : {}),
    ...(absent.length > 0 ? { absentSources: [...absent] } : {}),
    ...(skipped.size > 0 ? { skippedSources: [...skipped].sort() } : {}),
  };
}

/**
 * One line per gap, for `warning: …` (CLI, exit 3) or `warn receive: …` (daemon): what this run left
 * out, or, when nothing was new, what the replica still lacks since the last backup applied.
 */
export function receiveGapWarnings(result: ReceiveResult, client: string, storageFile: string | undefined, receiveIgnore: readonly string[]): string[] {
  const named = storageFile === undefined ? 'storage.conf' : storageFile;
  if (result.applied.length > 0) {
    return result.applied.flatMap(({ backup, unclaimedDumps, absentSources }) => [
      ...unclaimedDumps.map(({ path, source }) => `backup ${backup.backupId} of ${client}: ${path} not loaded: no source ${source} in ${named} (sources are matched by name)`),
      ...absentSources.map((source) => `backup ${backup.backupId} of ${client} holds no dump of source ${source}, which ${named} names: it stays as it was`),
    ]);
  }
  const state = result.previous;
  if (state === undefined) return [];
  // A source put in receive_ignore since the state was written is left out on purpose now.
  const unloaded = (state.unloadedSources ?? []).filter((source) => !receiveIgnore.includes(source));
  const absent = (state.absentSources ?? []).filter((source) => !receiveIgnore.includes(source));
  return [
    ...(unloaded.length > 0 ? [`${client}'s dumps of ${unloaded.join(', ')} are not loaded here since its last complete backup applied: no source of that name in ${named}`] : []),
    ...(absent.length > 0 ? [`backup ${state.backupId} of ${client} holds no dump of ${absent.join(', ')}, which ${named} names: not loaded`] : []),
  ];
}
