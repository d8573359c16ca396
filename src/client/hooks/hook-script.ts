// Runs one of node.conf's scripts the way burp does: the executable with fixed arguments ("pre" or
// "post", then the outcome), then the configured *_arg values; the outcome also in the environment.
import type { HookScript } from '../../common/config/script-keys';
import { describeFailure, isSuccess, startProcess } from '../sources/child-process';
import { shownLines } from '../../common/config/display';

/** A script still running after an hour is stuck: it is stopped (with what it started) and counts as failed. */
export const SCRIPT_TIMEOUT_SECONDS = 3600;

export type HookAction = 'backup' | 'restore';
export type HookOutcomeName = 'success' | 'incomplete' | 'failure';

export interface HookOutcome {
  readonly outcome: HookOutcomeName;
  /** The backup made or restored; 0 when there is none (a backup that failed before it got a number). */
  readonly backupId: number;
  /** The exit code cpsbackup would give without the post script. */
  readonly exitCode: number;
  /** The error's message on failure. */
  readonly error?: string;
}

export interface HookCall {
  readonly script: HookScript;
  readonly action: HookAction;
  readonly configFile: string;
  /** More CPSBACKUP_* variables (CPSBACKUP_RESTORE_TO for restores). */
  readonly environment?: Readonly<Record<string, string>>;
}

/** burp's positions: pre gets "pre reserved2 … reserved5"; post gets "post <0|1> …", 1 meaning failed. */
function fixedArguments(phase: 'pre' | 'post', outcome: HookOutcome | undefined): string[] {
  if (phase === 'pre') return ['pre', 'reserved2', 'reserved3', 'reserved4', 'reserved5'];
  // burp leaves the third position reserved; the backup id there is what a post script most wants.
  return ['post', outcome!.outcome === 'failure' ? '1' : '0', String(outcome!.backupId), 'reserved4', 'reserved5'];
}

/** Runs the script; returns undefined when it exited 0, else one line saying how it failed, with its stderr. */
export async function runHookScript(call: HookCall, phase: 'pre' | 'post', outcome?: HookOutcome): Promise<string | undefined> {
  const key = `${call.action}_script_${phase}`;
  const environment: NodeJS.ProcessEnv = {
    ...process.env,
    ...call.environment,
    CPSBACKUP_ACTION: call.action,
    CPSBACKUP_PHASE: phase,
    CPSBACKUP_CONFIG: call.configFile,
    ...(outcome === undefined ? {} : {
      CPSBACKUP_OUTCOME: outcome.outcome,
      CPSBACKUP_BACKUP_ID: String(outcome.backupId),
      CPSBACKUP_EXIT_CODE: String(outcome.exitCode),
      // A message quotes a command's stderr, which may hold a NUL: no environment value can carry one.
      CPSBACKUP_ERROR: shownLines(outcome.error ?? '', 4000),
    }),
  };
  // Its stdout goes to our stderr: seen by whoever runs cpsbackup, never mixed into a command's output.
  const running = startProcess(call.script.path, [...fixedArguments(phase, outcome), ...call.script.args], {
    stdin: 'ignore', stdout: 2, timeoutSeconds: SCRIPT_TIMEOUT_SECONDS, env: environment,
  });
  const result = await running.outcome;
  if (isSuccess(result)) return undefined;
  return `${key} ${call.script.path} ${describeFailure(result, SCRIPT_TIMEOUT_SECONDS)}${result.stderrTail ? `:\n${result.stderrTail}` : ''}`;
}
