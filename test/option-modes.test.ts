// Regression (operator review): an option the chosen mode does not read was taken silently, exit 0:
// `-e --to /x` backed up, `-d 13 --force --json` deleted and printed no JSON. Now a usage error naming
// the option and the modes it goes with, before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../src/cli/cpsbackup';
import { misplacedOption } from '../src/cli/option-modes';
import { EXIT } from '../src/cli/exit-codes';

async function run(args: readonly string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await main(['node', 'cpsbackup', '-c', '/nonexistent/node.conf', ...args], { out: () => undefined, err: (text) => { err += text; }, isInteractive: false });
  return { code, err };
}

test('an option the mode does not take is a usage error naming it, before the configuration is read', async () => {
  for (const [args, said] of [
    [['-e', '--to', '/x'], '--to goes with -i, not with -e'],
    [['-d', '13', '--force', '--json'], '--json goes with -l, -s, --diff, --find, not with -d'],
    [['-l', '--force'], '--force goes with -d, not with -l'],
    [['-i', '--partial'], '--partial goes with -e, not with -i'],
    [['-e', '--client', 'prod'], '--client goes with -l, -s, -i, -d, --diff, --find, not with -e'],
    [['--protect', '3', '--no-load'], '--load/--no-load goes with -i, not with --protect'],
  ] as const) {
    const result = await run(args);
    assert.equal(result.code, EXIT.usage, `${args.join(' ')}: ${result.err}`);
    assert.ok(result.err.startsWith(`cpsbackup: ${said}: it would do nothing here`), `${args.join(' ')}: ${result.err}`);
  }
});

test('the options each mode takes are let through', () => {
  assert.equal(misplacedOption({ to: '/x', overwrite: 'always', include: [], regex: 'a', strip: 1, load: false, client: 'prod' }, 'import'), undefined);
  assert.equal(misplacedOption({ json: true, client: 'prod' }, 'list'), undefined);
  assert.equal(misplacedOption({ force: true, client: 'prod' }, 'delete'), undefined);
  assert.equal(misplacedOption({ partial: true }, 'export'), undefined);
  assert.equal(misplacedOption({ config: '/etc/cpsbackup/node.conf' }, 'daemon'), undefined);
});
