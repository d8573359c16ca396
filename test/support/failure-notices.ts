// Test-only: a notify_script that appends each notification's outcome and summary to a file, and
// readers for what it recorded and for a client's state on the status port.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusReport } from '../../src/server/status/status-report';

export interface RecordingScript {
  readonly script: string;
  /** `outcome<TAB>summary` per notification delivered so far. */
  notices(): Promise<string[]>;
  /** Waits until at least `count` notices arrived (or 5 s passed), then returns them all. */
  waitFor(count: number): Promise<string[]>;
  remove(): Promise<void>;
}

export async function recordingNotifyScript(): Promise<RecordingScript> {
  const folder = await mkdtemp(join(tmpdir(), 'cpsbackup-notices-'));
  const output = join(folder, 'notices.txt');
  const script = join(folder, 'notify.sh');
  await writeFile(script, `#!/bin/sh\ncat > /dev/null\nprintf '%s\\t%s\\n' "$CPSBACKUP_OUTCOME" "$CPSBACKUP_SUMMARY" >> '${output}'\n`);
  await chmod(script, 0o755);
  await writeFile(output, '');
  const notices = async (): Promise<string[]> => (await readFile(output, 'utf8')).split('\n').filter(Boolean);
  return {
    script,
    notices,
    async waitFor(count) {
      const deadline = Date.now() + 5000;
      while ((await notices()).length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      return notices();
    },
    remove: () => rm(folder, { recursive: true, force: true }),
  };
}

export async function clientStatusOf(statusUrl: string, client: string): Promise<StatusReport['clients'][number]> {
  const response = await fetch(`${statusUrl}/status`);
  const report = (await response.json()) as StatusReport;
  const found = report.clients.find((candidate) => candidate.name === client);
  if (found === undefined) throw new Error(`no client ${client} in /status: ${JSON.stringify(report.clients.map((one) => one.name))}`);
  return found;
}
