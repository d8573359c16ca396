// The check report as lines for a terminal or a log: damage first, then what it breaks, then a verdict.
// Long lists are capped so a badly damaged store still prints a readable report.
import type { CheckReport } from './report';
import { isClean } from './report';
import { escapeBytes } from '../../common/escape-bytes';

const LISTED_LINES = 200;

export function checkReportLines(report: CheckReport): string[] {
  const { counts } = report;
  const lines = [`checked ${counts.packs} packs, ${counts.chunks} chunks, ${counts.contents} contents, ${counts.backups} backups; `
    + `${counts.chunksRead} chunks read and re-hashed`];
  const capped = (items: readonly string[]): string[] =>
    items.length <= LISTED_LINES ? [...items] : [...items.slice(0, LISTED_LINES), `... and ${items.length - LISTED_LINES} more`];
  lines.push(...capped(report.problems.map((problem) => `problem: ${problem}`)));
  lines.push(...capped(report.staleKnowledge.map(({ clientName, chunks }) =>
    `problem: client ${clientName} is told the store holds ${chunks} chunks none of its backups or holds references (check --repair forgets them)`)));
  lines.push(...capped((report.healedChunks ?? []).map((healed) =>
    `healed: chunk ${healed.hash} in pack ${healed.packName} at offset ${healed.offset} did not read back from the store; `
    + `stored again from ${healed.source} in pack ${healed.newPackName}, read back and verified`)));
  lines.push(...capped((report.healFailures ?? []).map((failure) => `problem: ${failure}`)));
  lines.push(...capped(report.damagedChunks.map((damage) =>
    `damaged chunk ${damage.hash} in pack ${damage.packName} at offset ${damage.offset}: ${damage.reason}`)));
  lines.push(...capped(report.damagedContents.map((damage) => `damaged content ${damage.contentId}: ${damage.reason}`)));
  lines.push(...capped(report.affectedFiles.map((file) =>
    `affected file: client ${file.clientName} backup ${String(file.backupNumber).padStart(7, '0')} ${escapeBytes(file.path)}`)));
  lines.push(...report.affectedBackups.map((backup) =>
    `affected backup: client ${backup.clientName} backup ${String(backup.backupNumber).padStart(7, '0')} (${backup.damagedFiles} damaged files)`));
  if (report.damagedGarbageChunks.length > 0) {
    lines.push(`damaged but used by no backup any more (reclaimed by the next gc, not damage): ${report.damagedGarbageChunks.length} chunks`);
  }
  if (report.soundAgain.length > 0) {
    lines.push(`${report.soundAgain.length} chunks marked damaged by an earlier check read back whole and match their hashes: no longer marked`);
  }
  if (report.garbage.contents + report.garbage.chunks > 0) {
    lines.push(`garbage (reclaimed by the next gc, not damage): ${report.garbage.contents} contents, ${report.garbage.chunks} chunks`);
  }
  lines.push(isClean(report)
    ? 'no errors found'
    : `DAMAGE FOUND: ${report.damagedChunks.length} damaged chunks, ${report.damagedContents.length} damaged contents, `
      + `${report.affectedFiles.length} affected files in ${report.affectedBackups.length} backups, ${report.problems.length + report.staleKnowledge.length} other problems`);
  return lines;
}
