// Wraps a backup or a restore in node.conf's pre and post scripts: a failing pre script fails the
// run before anything starts; the post script runs after every outcome, failures included, and is told which.
import type { HookScript } from '../../common/config/script-keys';
import { errorMessage, ScriptFailedError } from '../../common/errors';
import { runHookScript, type HookAction, type HookOutcome } from './hook-script';

export interface ScriptedRun {
  readonly action: HookAction;
  readonly configFile: string;
  readonly pre?: HookScript;
  readonly post?: HookScript;
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * The exit code the command ends with after `error` (CPSBACKUP_EXIT_CODE): 1 unless said otherwise. A run
   * stopped by a signal ends with that signal's (130, 143, 129), and its post script is told so.
   */
  readonly failureExitCode?: (error: unknown) => number;
}

export interface RunResult {
  readonly backupId: number;
  /** 0 done, 3 partly done (a backup kept incomplete, a restore that left entries as they were). */
  readonly exitCode: number;
}

const PARTIAL_EXIT = 3;
const FAILURE_EXIT = 1;

/**
 * Runs body between the scripts. A post script that fails after a body that succeeded makes the
 * result partly done (exit 3: the backup is committed, what should follow it did not happen); its
 * problem goes to onPostProblem either way. A failing body's error is rethrown after the post script.
 */
export async function withScripts(run: ScriptedRun, body: () => Promise<RunResult>, onPostProblem: (problem: string) => void): Promise<RunResult> {
  const call = (script: HookScript) => ({ script, action: run.action, configFile: run.configFile, environment: run.environment });
  const after = async (outcome: HookOutcome): Promise<boolean> => {
    if (run.post === undefined) return true;
    const problem = await runHookScript(call(run.post), 'post', outcome);
    if (problem !== undefined) onPostProblem(problem);
    return problem === undefined;
  };
  if (run.pre !== undefined) {
    const problem = await runHookScript(call(run.pre), 'pre');
    if (problem !== undefined) {
      const error = new ScriptFailedError(`${problem}\n${run.action} not started: nothing was sent or committed`);
      await after({ outcome: 'failure', backupId: 0, exitCode: FAILURE_EXIT, error: error.message });
      throw error;
    }
  }
  let result: RunResult;
  try {
    result = await body();
  } catch (error) {
    await after({ outcome: 'failure', backupId: 0, exitCode: run.failureExitCode?.(error) ?? FAILURE_EXIT, error: errorMessage(error) });
    throw error;
  }
  const isPostOk = await after({ outcome: result.exitCode === 0 ? 'success' : 'incomplete', backupId: result.backupId, exitCode: result.exitCode });
  return isPostOk ? result : { ...result, exitCode: Math.max(result.exitCode, PARTIAL_EXIT) };
}
