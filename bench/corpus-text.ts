// Generates the small text files of the benchmark corpus: configs, logs, source-like and prose files.
// Content is a pure function of (seed, file index), so a file can be regenerated or edited reproducibly.
import { Random } from './prng';

const words = [
  'backup', 'server', 'client', 'chunk', 'store', 'index', 'record', 'stream', 'folder', 'config',
  'restore', 'archive', 'snapshot', 'node', 'dump', 'database', 'collection', 'table', 'row', 'column',
  'request', 'response', 'session', 'token', 'user', 'account', 'invoice', 'order', 'payment', 'ticket',
  'alarm', 'event', 'metric', 'host', 'service', 'status', 'queue', 'worker', 'task', 'job',
  'the', 'a', 'of', 'to', 'and', 'in', 'is', 'for', 'on', 'with', 'that', 'by', 'from', 'at', 'as',
  'update', 'delete', 'insert', 'select', 'value', 'error', 'warning', 'retry', 'timeout', 'limit',
] as const;
const levels = ['DEBUG', 'INFO', 'INFO', 'INFO', 'WARN', 'ERROR'] as const;
const kinds = ['conf', 'log', 'py', 'md'] as const;
export type TextKind = (typeof kinds)[number];

export interface TextFile {
  readonly relativePath: string;
  readonly content: string;
}

/** Many small files with a long tail: most are a few KiB, a few reach 64 KiB. */
export function textFileSize(random: Random): number {
  const roll = random.next();
  if (roll < 0.6) return random.integer(200, 4096);
  if (roll < 0.95) return random.integer(4096, 16384);
  return random.integer(16384, 65536);
}

function sentence(random: Random, count: number): string {
  const parts: string[] = [];
  for (let index = 0; index < count; index++) parts.push(random.pick(words));
  return parts.join(' ');
}

function line(random: Random, kind: TextKind, lineNumber: number): string {
  switch (kind) {
    case 'conf':
      return `${random.pick(words)}_${random.pick(words)} = ${random.next() < 0.5 ? random.integer(0, 65535) : random.pick(words)}`;
    case 'log': {
      const seconds = 1_700_000_000 + lineNumber * 7 + random.integer(0, 6);
      return `${new Date(seconds * 1000).toISOString()} ${random.pick(levels)} [${random.pick(words)}] ${sentence(random, random.integer(4, 14))}`;
    }
    case 'py':
      return random.next() < 0.2
        ? `def ${random.pick(words)}_${random.pick(words)}(${random.pick(words)}, ${random.pick(words)}):`
        : `    ${random.pick(words)} = ${random.pick(words)}.${random.pick(words)}(${random.integer(0, 999)})  # ${sentence(random, 3)}`;
    case 'md':
      return random.next() < 0.1 ? `## ${sentence(random, 3)}` : sentence(random, random.integer(8, 20));
  }
}

/** Lines of the given kind until the size is reached; each line is newline-terminated. */
export function textContent(random: Random, kind: TextKind, size: number): string {
  const lines: string[] = [];
  let length = 0;
  while (length < size) {
    const next = line(random, kind, lines.length);
    lines.push(next);
    length += next.length + 1;
  }
  return lines.join('\n') + '\n';
}

/** The index-th text file: its folder spreads files 40 per folder over two levels. */
export function textFile(seed: number, index: number): TextFile {
  const random = Random.from(seed, 'text', index);
  const kind = random.pick(kinds);
  const folder = Math.floor(index / 40);
  const relativePath = `text/group-${String(Math.floor(folder / 32)).padStart(3, '0')}/part-${String(folder % 32).padStart(2, '0')}/file-${String(index).padStart(6, '0')}.${kind}`;
  return { relativePath, content: textContent(random, kind, textFileSize(random)) };
}

/** Generation 2's edit of an existing file: a few lines replaced and a few appended. */
export function editText(seed: number, index: number, content: string): string {
  const random = Random.from(seed, 'edit', index);
  const lines = content.split('\n');
  const replaced = random.integer(1, 3);
  for (let count = 0; count < replaced; count++) {
    lines[random.integer(0, Math.max(0, lines.length - 2))] = `edited ${sentence(random, random.integer(4, 10))}`;
  }
  const appended = textContent(random, 'md', random.integer(100, 800));
  return lines.join('\n') + appended;
}
