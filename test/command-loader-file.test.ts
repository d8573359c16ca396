// Regression: `{file}` in a command source's load was replaced by the single-quoted path whatever
// surrounded it, so `cat "{file}"` put the path's own quotes inside the operator's double quotes and
// the shell ran a $(…) in it. The path is the restore target plus the backup's own path: in a receive,
// folders another client named. Now the path travels in CPSBACKUP_FILE and is never command text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '../src/common/errors';
import { withFileVariable } from '../src/client/sources/file-placeholder';
import { loadRestoredDumps } from '../src/client/sources/loaders';
import { storageConfigFromText } from '../src/client/sources/storage-config';
import { exists, withTempFolder } from './support/temp-folder';

const withFolder = (run: (folder: string) => Promise<void>): Promise<void> => withTempFolder('cpsbackup-file-placeholder-', run);

test('a path holding $(…), backticks, quotes or a line feed reaches {file} as one word and runs nothing, quoted or not', async () => {
  await withFolder(async (folder) => {
    const marker = join(folder, 'pwned');
    const folderNames = [`x$(touch ${marker})`, `x\`touch ${marker}\``, `x"$(touch ${marker})"`, `x'$(touch ${marker})'`,
      `x\n$(touch ${marker})`, 'two  spaces *'];
    const spellings = ['cat {file}', 'cat "{file}"', 'cat -- "$(printf %s {file})"', 'cat "$(printf %s "{file}")"'];
    for (const [spellingIndex, spelling] of spellings.entries()) {
      for (const [nameIndex, name] of folderNames.entries()) {
        const output = join(folder, `loaded-${spellingIndex}-${nameIndex}`);
        const config = storageConfigFromText('storage.conf', ['source = app', 'kind = command', 'dump = true', `load = ${spelling} > '${output}'`].join('\n'));
        const path = join(folder, name, 'dumps', 'app', 'dump');
        await mkdir(join(path, '..'), { recursive: true });
        await writeFile(path, `dump ${nameIndex}`);
        const [result] = await loadRestoredDumps(config, [{ path, sourceName: 'app' }]);
        assert.equal(await exists(marker), false, `${spelling} with folder ${JSON.stringify(name)} ran a command`);
        assert.ok(result.ok, `${spelling} with folder ${JSON.stringify(name)}: ${result.error}`);
        assert.equal(await readFile(output, 'utf8'), `dump ${nameIndex}`, `${spelling} with folder ${JSON.stringify(name)} read another file`);
      }
    }
  });
});

test('{file} where the shell expands nothing is refused at config load, naming the line', () => {
  for (const load of ["sh -c 'cat {file}'", "printf $'{file}'", 'cat \\{file}', "cat {file} && sh -c 'cat {file}'"]) {
    for (const key of ['load', 'load_partial']) {
      const lines = ['source = app', 'kind = command', 'dump = true {since}', 'dump_partial = true {since}', 'load = cat', 'load_partial = cat'];
      const text = lines.map((line) => (line.startsWith(`${key} =`) ? `${key} = ${load}` : line)).join('\n');
      assert.throws(() => storageConfigFromText('storage.conf', text), (error: Error) => error instanceof ConfigError
        && error.message.startsWith(`storage.conf:${key === 'load' ? 5 : 6}: ${key}: {file}`), `${key} = ${load}`);
    }
  }
});

test('{file} becomes a reference to CPSBACKUP_FILE fit for its quoting', () => {
  assert.equal(withFileVariable('pg_restore -d x {file}'), 'pg_restore -d x "$CPSBACKUP_FILE"');
  assert.equal(withFileVariable('psql -f "{file}"'), 'psql -f "${CPSBACKUP_FILE}"');
  assert.equal(withFileVariable('cat "a{file}b" \'{x}\''), 'cat "a${CPSBACKUP_FILE}b" \'{x}\'');
  assert.equal(withFileVariable('cat "$(basename {file})"'), 'cat "$(basename "$CPSBACKUP_FILE")"');
  assert.equal(withFileVariable("echo '\"' {file}"), 'echo \'"\' "$CPSBACKUP_FILE"');
  assert.equal(withFileVariable('echo "\\"" {file}'), 'echo "\\"" "$CPSBACKUP_FILE"');
});
