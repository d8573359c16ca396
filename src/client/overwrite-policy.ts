// What a restore does where something already exists: `never` (the default) keeps whatever differs
// from the backup and says so; `if-newer` replaces only what is older than the backup's copy;
// `always` replaces it. An existing entry identical to the backup's is left as it is.

export type OverwritePolicy = 'never' | 'if-newer' | 'always';

export const OVERWRITE_POLICIES: readonly OverwritePolicy[] = ['never', 'if-newer', 'always'];

export type OverwriteDecision = 'write' | 'keep-identical' | 'keep-different';

/** existingMtimeNs / backupMtimeNs: for if-newer; isIdentical: the existing entry equals the backup's. */
export function decideOverwrite(policy: OverwritePolicy, isIdentical: boolean, existingMtimeNs: bigint, backupMtimeNs: bigint): OverwriteDecision {
  if (isIdentical) return 'keep-identical';
  if (policy === 'always') return 'write';
  if (policy === 'if-newer' && backupMtimeNs > existingMtimeNs) return 'write';
  return 'keep-different';
}
