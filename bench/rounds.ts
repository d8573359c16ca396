// Several rounds of A–D (BENCH_ROUNDS): one result per tool from all of them, and how far the
// rounds spread. This machine is shared and its noise moves one run's ratios by ±30 %, enough to
// flip a target; a median of alternating rounds, with the spread beside it, says what is real.
import { median } from '../src/server/status/anomaly';
import { checkTargets } from './report';
import { type ScenarioName, type ScenarioResult, type ToolResult, newToolResult, scenarioNames } from './scenarios';

/** Per key, f of the values the records have for it (a key missing from any record is left out). */
function combineRecords(records: readonly Readonly<Record<string, number>>[], combine: (values: number[]) => number): Record<string, number> {
  const keys = Object.keys(records[0] ?? {}).filter((key) => records.every((record) => record[key] !== undefined));
  return Object.fromEntries(keys.map((key) => [key, combine(records.map((record) => record[key]))]));
}

/**
 * One scenario over the rounds: wall, CPU and wire bytes are medians; peak RSS is the highest
 * round's (the memory target is a ceiling, so its worst case counts). Undefined unless every round has it.
 */
function combineScenario(scenarios: readonly (ScenarioResult | undefined)[]): ScenarioResult | undefined {
  if (scenarios.length === 0 || scenarios.some((scenario) => scenario === undefined)) return undefined;
  const all = scenarios as readonly ScenarioResult[];
  const wires = all.map((scenario) => scenario.wireBytes);
  return {
    wallSeconds: median(all.map((scenario) => scenario.wallSeconds)),
    bytes: all[0].bytes,
    peakRssBytes: combineRecords(all.map((scenario) => scenario.peakRssBytes), (values) => Math.max(...values)),
    cpuSeconds: combineRecords(all.map((scenario) => scenario.cpuSeconds), median),
    ...(wires.every((wire) => wire !== undefined)
      ? { wireBytes: { sent: median(wires.map((wire) => wire!.sent)), received: median(wires.map((wire) => wire!.received)) } }
      : {}),
  };
}

/**
 * rounds[r][t]: round r's result of tool t, the tools in the same order in every round. A tool that
 * failed or was missing in any round carries that round's error; its scenarios are combined over the
 * rounds that have them all (none, if one round lacks a scenario).
 */
export function combineRounds(rounds: readonly (readonly ToolResult[])[]): ToolResult[] {
  if (rounds.length === 0) return [];
  return rounds[0].map((first, index) => {
    const results = rounds.map((round) => round[index]);
    const combined = newToolResult(first.tool);
    const version = results.find((result) => result.version !== undefined)?.version;
    if (version !== undefined) combined.version = version;
    const missing = results.find((result) => result.missing !== undefined)?.missing;
    if (missing !== undefined) combined.missing = missing;
    const errors = results.flatMap((result, round) => (result.error === undefined ? [] : [`round ${round + 1}: ${result.error}`]));
    if (errors.length > 0) combined.error = errors.join('; ');
    for (const name of scenarioNames) {
      const scenario = combineScenario(results.map((result) => result.scenarios[name]));
      if (scenario !== undefined) combined.scenarios[name] = scenario;
    }
    for (const name of ['A', 'B', 'C'] as const) {
      const sizes = results.map((result) => result.repositoryBytes[name]);
      if (sizes.every((size) => size !== undefined)) combined.repositoryBytes[name] = median(sizes as number[]);
    }
    if (results.every((result) => result.restoreVerified !== undefined)) combined.restoreVerified = results.every((result) => result.restoreVerified === true);
    return combined;
  });
}

/** The tools' order in round `round` (from 0): rotated by one each round, so no tool always goes first. */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const shift = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/**
 * Markdown lines: each target as each round measured it, then each tool's wall seconds per scenario
 * as the lowest and highest round and their spread. Nothing for a single round.
 */
export function renderRounds(rounds: readonly (readonly ToolResult[])[], combined: readonly ToolResult[]): string[] {
  if (rounds.length < 2) return [];
  const perRound = rounds.map((round) => checkTargets(round));
  const verdicts = checkTargets(combined);
  const roundHeads = rounds.map((_, index) => `round ${index + 1}`);
  const lines = [
    `## ${rounds.length} rounds`,
    '',
    'The table above holds each tool\'s median over the rounds (peak RSS: the highest round); the tools ran in a rotated order each round.',
    '',
    `| target | ${roundHeads.join(' | ')} | the table above |`,
    `| --- | ${roundHeads.map(() => '---').join(' | ')} | --- |`,
    ...verdicts.map((verdict, index) => `| ${verdict.target} | ${perRound.map((checks) => `${checks[index].status} ${checks[index].measured}`).join(' | ')} | ${verdict.status} ${verdict.measured} |`),
    '',
    '| wall s, lowest–highest round (spread) | ' + combined.map((result) => result.tool).join(' | ') + ' |',
    '| --- | ' + combined.map(() => '---:').join(' | ') + ' |',
  ];
  for (const name of scenarioNames) {
    const cells = combined.map((_, index) => wallSpread(rounds.map((round) => round[index]), name));
    if (cells.every((cell) => cell === '—')) continue;
    lines.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  return lines;
}

function wallSpread(results: readonly ToolResult[], name: ScenarioName): string {
  const walls = results.map((result) => result.scenarios[name]?.wallSeconds).filter((wall): wall is number => wall !== undefined);
  if (walls.length < 2) return '—';
  const low = Math.min(...walls);
  const high = Math.max(...walls);
  return `${low.toFixed(2)}–${high.toFixed(2)} (${low > 0 ? `+${(((high - low) / low) * 100).toFixed(0)} %` : '—'})`;
}
