// Regression (red team redconf): `-i 999999999999999999999` failed with `could not encode a message to the server:
// invalid uint64: 1e+21`, exit 1, and an id past 2^53 - 1 rounds to another backup. Every backup-id argument of
// every command beyond what the wire carries exactly is now a usage error (exit 2), before the config is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from '../src/cli/cpsbackup';
import * as server from '../src/cli/cpsbackup-server';

test('a backup id past 2^53 - 1 is a usage error in every command that takes one', async () => {
  for (const tooBig of ['999999999999999999999', '9007199254740992', '18446744073709551616']) {
    for (const args of [['-i', tooBig], ['-s', tooBig], ['-d', tooBig], ['--protect', tooBig], ['--unprotect', tooBig], ['--diff', '1', tooBig]]) {
      let err = '';
      const code = await client.main(['node', 'cpsbackup', '-c', '/nonexistent/node.conf', ...args], { out: () => undefined, err: (text) => { err += text; }, isInteractive: false });
      assert.equal(code, 2, `${args.join(' ')}: ${err}`);
      assert.match(err, /a backup id is at most 9007199254740991/, args.join(' '));
    }
    for (const command of ['protect', 'unprotect']) {
      let err = '';
      const write = process.stderr.write;
      process.stderr.write = ((text: string) => { err += text; return true; }) as typeof process.stderr.write;
      let code: number;
      try {
        code = await server.main(['node', 'cpsbackup-server', '-c', '/nonexistent/server.conf', command, 'node1', tooBig]);
      } finally {
        process.stderr.write = write;
      }
      assert.equal(code, 2, `${command} ${tooBig}: ${err}`);
      assert.match(err, /a backup id is at most 9007199254740991/);
    }
  }
});
