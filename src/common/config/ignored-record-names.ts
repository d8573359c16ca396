// Names in the clients folder that are an editor's or a package manager's leftovers, not clients:
// `cp node1 node1.bak` must not make a second record claiming node1's certificate. Shared by the server,
// which skips such files, and cpsbackup-ca, which refuses to issue a certificate for a client so named.

/** burp skips dot files and names ending in '~'; the rest are what vim, patch, dpkg, ucf and rpm leave behind. */
const IGNORED_NAMES: readonly (readonly [RegExp, string])[] = [
  [/^\./, 'a dot file'], // .git, .node1.swp, .#node1 (also '.' and '..')
  [/~$/, 'an editor\'s backup (ending in ~)'], // emacs, vim and cp --backup
  [/^#.*#$/, 'an emacs autosave (#…#)'],
  [/\.(bak|old|orig|rej|swp|swo|tmp)$/i, 'an editor\'s or patch\'s leftover (.bak, .old, .orig, .rej, .swp, .swo, .tmp)'],
  [/\.dpkg-[a-z]+$/, 'a dpkg leftover (.dpkg-old, .dpkg-dist, .dpkg-new, …)'],
  [/\.ucf-[a-z]+$/, 'a ucf leftover (.ucf-old, .ucf-dist, .ucf-new)'],
  [/\.rpm(new|save|orig)$/, 'an rpm leftover (.rpmnew, .rpmsave, .rpmorig)'],
];

/** Why the server skips a clients-folder file of this name (what it takes it for), or undefined when it reads it. */
export function ignoredRecordReason(name: string): string | undefined {
  return IGNORED_NAMES.find(([pattern]) => pattern.test(name))?.[1];
}

export function isIgnoredRecordName(name: string): boolean {
  return ignoredRecordReason(name) !== undefined;
}
