// Regression (red team redconf, repeated-id-options-last-wins): an option of one value given twice kept the last
// silently, exit 0: `--protect 1 --protect 2` protected 2 alone, `--protect 99 --protect 2` said nothing of 99,
// `-d 3 -d 4 --force` deleted 4 alone, and retention then removed the backup the operator believed protected.
// Every such option of every command (cpsbackup, cpsbackup-server, cpsbackup-ca, their subcommands) given twice is
// now a usage error (exit 2) naming it, before anything runs; the repeatable ones keep every value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, Option } from 'commander';
import * as client from '../src/cli/cpsbackup';
import * as server from '../src/cli/cpsbackup-server';
import * as ca from '../src/cli/cpsbackup-ca';

interface Case { readonly path: readonly string[]; readonly option: Option }

/** Every option of the program and its subcommands, with the subcommand names that lead to it. */
function everyOption(command: Command, path: readonly string[] = []): Case[] {
  return [...command.options.filter((option) => !['help', 'version'].includes(option.name())).map((option) => ({ path, option })),
    ...command.commands.flatMap((subcommand) => everyOption(subcommand, [...path, subcommand.name()]))];
}

function given(option: Option, value: string): string[] {
  const flag = option.long ?? option.short!;
  return option.required || option.optional ? [flag, option.name() === 'overwrite' ? 'always' : value] : [flag];
}

async function runClient(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await client.main(['node', 'cpsbackup', ...args], { out: () => undefined, err: (text) => { err += text; }, isInteractive: false });
  return { code, err };
}

async function runServer(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const write = process.stderr.write;
  process.stderr.write = ((text: string) => { err += text; return true; }) as typeof process.stderr.write;
  try {
    return { code: await server.main(['node', 'cpsbackup-server', ...args]), err };
  } finally {
    process.stderr.write = write;
  }
}

async function runCa(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await ca.main([...args], { write: () => undefined }, { write: (text) => { err += text; } });
  return { code, err };
}

const programs = [
  { name: 'cpsbackup', program: client.buildProgram(() => undefined), run: runClient, repeatable: ['--include', '--load-into', '--diff'] },
  { name: 'cpsbackup-server', program: server.buildProgram(() => undefined, () => undefined), run: runServer, repeatable: [] as string[] },
  { name: 'cpsbackup-ca', program: ca.buildProgram({ write: () => undefined }, { write: () => undefined }, () => undefined), run: runCa, repeatable: ['--host'] },
];

for (const { name, program, run, repeatable } of programs) {
  test(`${name}: every option of one value given twice is a usage error naming it; the repeatable ones are not`, async () => {
    const cases = everyOption(program);
    assert.ok(cases.length >= 3, `${name} has options`);
    let refused = 0;
    for (const { path, option } of cases) {
      const args = [...path, ...given(option, '1'), ...given(option, '2')];
      const result = await run(args);
      const flag = option.long ?? option.short!;
      if (repeatable.includes(flag)) {
        assert.doesNotMatch(result.err, /given more than once/, `${name} ${args.join(' ')}`);
        continue;
      }
      refused++;
      assert.equal(result.code, 2, `${name} ${args.join(' ')}: ${result.err}`);
      assert.match(result.err, new RegExp(`^${name}: \\S*${flag.replace(/-/g, '\\-')}\\S* given more than once`), `${name} ${args.join(' ')}: ${result.err}`);
    }
    assert.ok(refused >= 2, `${name}: ${refused} options refused`);
  });
}

test('the two spellings of one option, and --load with --no-load, count as one option given twice', async () => {
  for (const args of [['-d', '3', '--delete', '4', '--force'], ['--protect', '99', '--protect', '2'], ['-i', '--load', '--no-load'], ['-d3', '-d4']]) {
    const result = await runClient(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.err}`);
    assert.match(result.err, /given more than once/, args.join(' '));
  }
  const once = await runCa(['server', '--dir', '/nonexistent/fixops-ca', '--dir=/nonexistent/other', '--name', 'a']);
  assert.equal(once.code, 2, once.err);
  assert.match(once.err, /^cpsbackup-ca: --dir given more than once/);
});
