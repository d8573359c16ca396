// What each TypeScript source under a folder imports: every import, export-from, require() and
// import() specifier with its line, resolved to a path relative to the source root (TypeScript's own pre-parser).
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface ImportSite {
  /** The importing file, relative to the source root, with '/' separators: "server/upload-session.ts". */
  readonly file: string;
  readonly line: number;
  /** As written in the source: "../chunkstore/store". */
  readonly specifier: string;
  /** For a relative specifier, the imported module relative to the root without extension ("chunkstore/store"); a package name otherwise. */
  readonly target: string;
  readonly isRelative: boolean;
}

/** The import sites of one source text; `file` is relative to the root, '/'-separated. */
export function importSitesOf(file: string, text: string): ImportSite[] {
  const { importedFiles } = ts.preProcessFile(text, true, true);
  return importedFiles.map(({ fileName, pos }) => {
    const isRelative = fileName.startsWith('./') || fileName.startsWith('../');
    const target = isRelative ? join(dirname(file), fileName).split(sep).join('/').replace(/\.(js|ts)$/, '') : fileName;
    return { file, line: lineAt(text, pos), specifier: fileName, target, isRelative };
  });
}

function lineAt(text: string, position: number): number {
  let line = 1;
  for (let index = 0; index < position; index++) if (text.charCodeAt(index) === 0x0a) line++;
  return line;
}

/** Every import site of every .ts file under root (declaration files and node_modules left out). */
export async function scanImports(root: string): Promise<ImportSite[]> {
  const sites: ImportSite[] = [];
  for (const path of await typeScriptFiles(resolve(root))) {
    const file = relative(resolve(root), path).split(sep).join('/');
    sites.push(...importSitesOf(file, await readFile(path, 'utf8')));
  }
  return sites;
}

async function typeScriptFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') files.push(...await typeScriptFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files.sort();
}

/** "file:line imports 'specifier'", for an assertion message a reader can jump from. */
export function describeSite(site: ImportSite): string {
  return `src/${site.file}:${site.line} imports '${site.specifier}'`;
}
