// Whether a system tool runs here and succeeds (setfacl on a file system with ACLs, unshare where
// namespaces are allowed): a test that needs it skips with the reason when it does not.
import { execFileSync } from 'node:child_process';

export function runs(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
