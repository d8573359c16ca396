// Names in the clients folder that are an editor's or a package manager's leftovers, not clients:
// `cp node1 node1.bak` must not make a second record claiming node1's certificate.

/** burp skips dot files and names ending in '~'; the rest are what vim, patch, dpkg, ucf and rpm leave behind. */
const IGNORED_NAMES: readonly RegExp[] = [
  /^\./, // dot files: .git, .node1.swp, .#node1 (also '.' and '..')
  /~$/, // emacs, vim and cp --backup
  /^#.*#$/, // emacs autosave
  /\.(bak|old|orig|rej|swp|swo|tmp)$/i,
  /\.dpkg-[a-z]+$/, // .dpkg-old, .dpkg-dist, .dpkg-new, .dpkg-tmp
  /\.ucf-[a-z]+$/, // .ucf-old, .ucf-dist, .ucf-new
  /\.rpm(new|save|orig)$/,
];

export function isIgnoredRecordName(name: string): boolean {
  return IGNORED_NAMES.some((pattern) => pattern.test(name));
}
