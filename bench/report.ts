// Turns tool results into the comparison table, the target checks, and the Markdown report.
// Pure functions of the results, so the report can be tested without running any tool.
import { scenarioNames, scenarioTitles, type ScenarioName, type ToolResult } from './scenarios';

const mebibyte = 1024 * 1024;
const gibibyte = 1024 * mebibyte;
export const peakRssLimitBytes = 256 * mebibyte;
/** Server CPU per GiB of a first backup when the server chunked, hashed and compressed everything (bench/results/2026-12-02T02-08-02Z). */
export const serverSideChunkingCpuPerGiB = 18.46;
/** Wire bytes of C may exceed the new bytes stored by this factor (file list, queries, TLS). */
export const wireOverNewBytesLimit = 1.3;

export interface Row {
  readonly metric: string;
  /** Tool name → value; undefined when the tool did not produce it. */
  readonly values: Readonly<Record<string, number | undefined>>;
  /** Whether a larger value is better, to read the ratios. */
  readonly higherIsBetter: boolean;
}

export type TargetStatus = 'PASS' | 'MISS' | 'N/A';

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  readonly status: TargetStatus;
}

export function throughputMiBs(result: ToolResult, name: ScenarioName): number | undefined {
  const scenario = result.scenarios[name];
  return scenario && scenario.wallSeconds > 0 ? scenario.bytes / mebibyte / scenario.wallSeconds : undefined;
}

export function peakRss(result: ToolResult, name: ScenarioName, process?: string): number | undefined {
  const peaks = result.scenarios[name]?.peakRssBytes;
  if (!peaks) return undefined;
  const values = process === undefined ? Object.values(peaks) : [peaks[process]].filter((value): value is number => value !== undefined);
  return values.length > 0 ? Math.max(...values) : undefined;
}

/** CPU seconds of all the step's processes together (client and server for cpsbackup). */
export function cpuSeconds(result: ToolResult, name: ScenarioName): number | undefined {
  const seconds = result.scenarios[name]?.cpuSeconds;
  return seconds ? Object.values(seconds).reduce((sum, value) => sum + value, 0) : undefined;
}

export function newBytesStored(result: ToolResult): number | undefined {
  const { B, C } = result.repositoryBytes;
  return B !== undefined && C !== undefined ? C - B : undefined;
}

/** Bytes each way on the wire in a scenario, when a proxy counted them. */
export function wireBytes(result: ToolResult, name: ScenarioName): number | undefined {
  const wire = result.scenarios[name]?.wireBytes;
  return wire === undefined ? undefined : wire.sent + wire.received;
}

function collect(results: readonly ToolResult[], pick: (result: ToolResult) => number | undefined): Record<string, number | undefined> {
  return Object.fromEntries(results.map((result) => [result.tool, pick(result)]));
}

export function buildRows(results: readonly ToolResult[]): Row[] {
  const rows: Row[] = [];
  for (const name of scenarioNames) {
    rows.push({ metric: `${name} wall s`, values: collect(results, (result) => result.scenarios[name]?.wallSeconds), higherIsBetter: false });
    rows.push({ metric: `${name} CPU s`, values: collect(results, (result) => cpuSeconds(result, name)), higherIsBetter: false });
    rows.push({ metric: `${name} MiB/s`, values: collect(results, (result) => throughputMiBs(result, name)), higherIsBetter: true });
    rows.push({ metric: `${name} peak RSS MiB`, values: collect(results, (result) => scale(peakRss(result, name))), higherIsBetter: false });
    // A client/server tool gets one row per process, so neither hides behind the other's peak.
    const processes = new Set(results.flatMap((result) => Object.keys(result.scenarios[name]?.peakRssBytes ?? {})));
    for (const process of ['client', 'server'].filter((candidate) => processes.has(candidate))) {
      rows.push({ metric: `${name} RSS ${process} MiB`, values: collect(results, (result) => scale(peakRss(result, name, process))), higherIsBetter: false });
      rows.push({ metric: `${name} CPU ${process} s`, values: collect(results, (result) => result.scenarios[name]?.cpuSeconds[process]), higherIsBetter: false });
    }
    if (results.some((result) => result.scenarios[name]?.wireBytes !== undefined)) {
      rows.push({ metric: `${name} wire sent MiB`, values: collect(results, (result) => scale(result.scenarios[name]?.wireBytes?.sent)), higherIsBetter: false });
      rows.push({ metric: `${name} wire received MiB`, values: collect(results, (result) => scale(result.scenarios[name]?.wireBytes?.received)), higherIsBetter: false });
    }
  }
  rows.push({ metric: 'repo after A MiB', values: collect(results, (result) => scale(result.repositoryBytes.A)), higherIsBetter: false });
  rows.push({ metric: 'C new bytes MiB', values: collect(results, (result) => scale(newBytesStored(result))), higherIsBetter: false });
  rows.push({ metric: 'repo after C MiB', values: collect(results, (result) => scale(result.repositoryBytes.C)), higherIsBetter: false });
  return rows;
}

function scale(bytes: number | undefined): number | undefined {
  return bytes === undefined ? undefined : bytes / mebibyte;
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  return numerator !== undefined && denominator !== undefined && denominator > 0 ? numerator / denominator : undefined;
}

function format(value: number | undefined, digits = 2): string {
  if (value === undefined) return '—';
  return value >= 100 ? value.toFixed(0) : value.toFixed(digits);
}

/** The lead's targets for cpsbackup, each measured against restic. */
export function checkTargets(results: readonly ToolResult[]): TargetCheck[] {
  const ours = results.find((result) => result.tool === 'cpsbackup');
  const restic = results.find((result) => result.tool === 'restic');
  const relative = (target: string, mine: number | undefined, theirs: number | undefined, passes: (value: number) => boolean): TargetCheck => {
    const value = ratio(mine, theirs);
    if (value === undefined) return { target, measured: 'no data', status: 'N/A' };
    return { target, measured: `${value.toFixed(2)}× restic`, status: passes(value) ? 'PASS' : 'MISS' };
  };
  const checks = [
    relative('A throughput ≥ 1.5× restic', ours && throughputMiBs(ours, 'A'), restic && throughputMiBs(restic, 'A'), (value) => value >= 1.5),
    relative('B wall ≤ 0.5× restic', ours?.scenarios.B?.wallSeconds, restic?.scenarios.B?.wallSeconds, (value) => value <= 0.5),
    relative('C new bytes stored ≤ restic', ours && newBytesStored(ours), restic && newBytesStored(restic), (value) => value <= 1),
    relative('C repo size ≤ restic', ours?.repositoryBytes.C, restic?.repositoryBytes.C, (value) => value <= 1),
    relative('D restore throughput ≥ 1.5× restic', ours && throughputMiBs(ours, 'D'), restic && throughputMiBs(restic, 'D'), (value) => value >= 1.5),
  ];
  const serverCpu = ours?.scenarios.A?.cpuSeconds.server;
  const serverCpuPerGiB = serverCpu !== undefined && ours?.scenarios.A ? serverCpu / (ours.scenarios.A.bytes / gibibyte) : undefined;
  const cpuLimit = serverSideChunkingCpuPerGiB / 3;
  checks.push(serverCpuPerGiB === undefined
    ? { target: `A server CPU ≤ ${cpuLimit.toFixed(2)} s/GiB (⅓ of server-side chunking)`, measured: 'no data', status: 'N/A' }
    : { target: `A server CPU ≤ ${cpuLimit.toFixed(2)} s/GiB (⅓ of server-side chunking)`, measured: `${serverCpuPerGiB.toFixed(2)} s/GiB`, status: serverCpuPerGiB <= cpuLimit ? 'PASS' : 'MISS' });
  const counted = results.find((result) => result.tool === 'cpsbackup-wire');
  const wireOfC = counted && wireBytes(counted, 'C');
  const wireRatio = ratio(wireOfC, counted && newBytesStored(counted));
  const wireTarget = `C wire bytes ≤ ${wireOverNewBytesLimit}× new bytes stored`;
  checks.push(wireRatio === undefined
    ? { target: wireTarget, measured: 'no data', status: 'N/A' }
    : { target: wireTarget, measured: `${wireRatio.toFixed(2)}× (${format(scale(wireOfC))} MiB)`, status: wireRatio <= wireOverNewBytesLimit ? 'PASS' : 'MISS' });
  for (const process of ['client', 'server']) {
    const peaks = scenarioNames.map((name) => (ours ? peakRss(ours, name, process) : undefined)).filter((value): value is number => value !== undefined);
    const target = `peak RSS ${process} ≤ 256 MiB`;
    checks.push(
      peaks.length === 0
        ? { target, measured: 'no data', status: 'N/A' }
        : { target, measured: `${format(Math.max(...peaks) / mebibyte, 1)} MiB`, status: Math.max(...peaks) <= peakRssLimitBytes ? 'PASS' : 'MISS' },
    );
  }
  checks.push({
    target: 'D restore equals the corpus',
    measured: ours?.restoreVerified === undefined ? 'no data' : ours.restoreVerified ? 'hashes match' : 'differs',
    status: ours?.restoreVerified === undefined ? 'N/A' : ours.restoreVerified ? 'PASS' : 'MISS',
  });
  return checks;
}

/** Ratio columns, [ours, theirs]: always against restic and borg; the bucket pairs only when a bucket run is in the table. */
const comparedPairs: readonly (readonly [string, string])[] = [['cpsbackup', 'restic'], ['cpsbackup', 'borg']];
const bucketPairs: readonly (readonly [string, string])[] = [['cpsbackup-s3', 'restic-s3'], ['cpsbackup-s3', 'cpsbackup']];

function tableCells(rows: readonly Row[], tools: readonly string[]): string[][] {
  const pairs = [...comparedPairs, ...bucketPairs.filter(([ours]) => tools.includes(ours))];
  const header = ['metric', ...tools, ...pairs.map(([ours, theirs]) => `${ours}/${theirs}`)];
  const body = rows.map((row) => [
    row.metric,
    ...tools.map((tool) => format(row.values[tool])),
    ...pairs.map(([ours, theirs]) => {
      const value = ratio(row.values[ours], row.values[theirs]);
      return value === undefined ? '—' : `${value.toFixed(2)}×`;
    }),
  ]);
  return [header, ...body];
}

export function renderTable(rows: readonly Row[], tools: readonly string[]): string {
  const cells = tableCells(rows, tools);
  const widths = cells[0].map((_, column) => Math.max(...cells.map((row) => row[column].length)));
  return cells.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ')).join('\n');
}

export function renderTargets(checks: readonly TargetCheck[]): string {
  const width = Math.max(...checks.map((check) => check.target.length));
  return checks.map((check) => `${check.status.padEnd(4)}  ${check.target.padEnd(width)}  ${check.measured}`).join('\n');
}

/** One line per tool that did not run to the end, with why. */
export function renderProblems(results: readonly ToolResult[]): string[] {
  return results.flatMap((result) => {
    if (result.missing !== undefined) return [`${result.tool} is missing: ${result.missing}`];
    if (result.error !== undefined) return [`${result.tool} failed: ${result.error}`];
    return [];
  });
}

export interface ReportContext {
  readonly date: string;
  readonly settings: Readonly<Record<string, string | number>>;
  readonly notes: readonly string[];
  /** Markdown lines on the rounds behind the table (BENCH_ROUNDS), after the targets. */
  readonly rounds?: readonly string[];
}

export function renderMarkdown(results: readonly ToolResult[], context: ReportContext): string {
  const tools = results.map((result) => result.tool);
  const cells = tableCells(buildRows(results), tools);
  const markdownTable = [cells[0], cells[0].map((_, column) => (column === 0 ? '---' : '---:')), ...cells.slice(1)].map((row) => `| ${row.join(' | ')} |`).join('\n');
  const checks = checkTargets(results);
  const lines = [
    `# Benchmark ${context.date}`,
    '',
    ...Object.entries(context.settings).map(([key, value]) => `- ${key}: ${value}`),
    '',
    'Scenarios: ' + scenarioNames.map((name) => `${name} = ${scenarioTitles[name]}`).join('; ') + '.',
    '',
    ...results.map((result) => `- ${result.tool}: ${result.version ?? 'not run'}${result.restoreVerified ? ', restore verified' : ''}`),
    '',
    markdownTable,
    '',
    '## Targets (cpsbackup)',
    '',
    '| status | target | measured |',
    '| --- | --- | --- |',
    ...checks.map((check) => `| ${check.status} | ${check.target} | ${check.measured} |`),
    '',
    ...(context.rounds ?? []),
    ...renderProblems(results).map((line) => `- ${line}`),
    ...context.notes.map((note) => `- ${note}`),
    '',
  ];
  return lines.join('\n');
}
