// How a backup id is printed to people, on every side: seven digits as burp prints them (0000003).

export function formatBackupId(id: number): string {
  return String(id).padStart(7, '0');
}
