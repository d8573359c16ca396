#!/usr/bin/env node
// cpsbackup-ca: creates the backup CA and issues server and client certificates (see etc/ssl).
// Prints where each file went and the config lines that use it; one-line errors, exit 2 for user errors.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { BackupError, errorMessage } from '../common/errors';
import { caFiles, initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../ca/ca';
import { minuteUtc } from '../ca/ca-authority';
import { outlivesCaNote } from '../ca/ca-lifetime';
import { certificateTable, listCertificates } from '../ca/ca-list';
import { caLockWaitMilliseconds, type CaLockWait } from '../ca/ca-lock';
import { renewRevocationList, revokeCertificateFile, revokeClientCertificate, revokeSerial, type Revocation } from '../ca/ca-revoke';
import { surviveClosedOutput } from './closed-output';
import { pathArgument } from './path-argument';
import { rawArguments } from './raw-arguments';
import { refuseRepeatedOptions } from './repeated-options';

const exitUsage = 2;
const exitFailure = 1;

interface Output {
  write(text: string): void;
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive number of days.');
  return Number(value);
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function buildProgram(out: Output, err: Output, rawArgs: () => readonly Buffer[] | undefined): Command {
  const program = new Command('cpsbackup-ca')
    .description('Create the cpsbackup certificate authority and issue certificates')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => out.write(text),
      writeErr: (text) => err.write(text),
      // main() prints commander's errors itself, as one line.
      outputError: () => undefined,
    });
  // A run that finds another one writing the CA folder says so at once, rather than sit silent while it waits.
  const lockWait: CaLockWait = {
    onWait: (holder) => err.write(`cpsbackup-ca: the CA folder is in use by ${holder}: waiting for it (at most ${caLockWaitMilliseconds / 1000} s)\n`),
  };

  program.command('init')
    .allowExcessArguments(false)
    .description('create ca.pem and ca.key (0600) in the folder; refuses to overwrite')
    .requiredOption('--dir <folder>', 'certificate folder, e.g. etc/ssl', pathArgument(rawArgs))
    .option('--cn <name>', 'CA common name', 'cpsbackup CA')
    .option('--days <n>', 'validity in days', positiveInteger, 3650)
    .action(async (options: { dir: string; cn: string; days: number }) => {
      const files = await initCertificateAuthority(options.dir, { commonName: options.cn, days: options.days, lock: lockWait });
      out.write(`wrote ${files.caCert}\nwrote ${files.caKey} (keep it secret, keep it off the backup network)\n` +
        `issued/ will hold a copy of every certificate issued, so any can be revoked: keep it with ca.key\n` +
        `server.conf and node.conf:\n  ssl_ca = ${files.caCert}\n`);
    });

  program.command('server')
    .allowExcessArguments(false)
    .description('issue server.pem and server.key for the backup server; a copy of the certificate goes to issued/')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA', pathArgument(rawArgs))
    .requiredOption('--name <dns-name>', 'server DNS name (also gets DNS:localhost and IP:127.0.0.1)')
    .option('--host <name-or-ip>', 'extra subject alternative name; repeatable', collect, [])
    .option('--days <n>', 'validity in days', positiveInteger, 825)
    .action(async (options: { dir: string; name: string; host: string[]; days: number }) => {
      const files = await issueServerCertificate(options.dir, options.name, { hosts: options.host, days: options.days, lock: lockWait });
      if (files.replacedRevoked !== undefined) out.write(`moved the revoked server certificate to ${files.replacedRevoked}, its key deleted\n`);
      out.write(`wrote ${files.cert} (serial ${files.serial})\nwrote ${files.key}\nserver.conf:\n` +
        `  ssl_cert = ${files.cert}\n  ssl_key = ${files.key}\n  ssl_ca = ${caFiles(path.resolve(options.dir)).caCert}\n` +
        `node.conf:\n  server = ${options.name}\n`);
      const note = await outlivesCaNote(files.cert, caFiles(path.resolve(options.dir)).caCert);
      if (note !== undefined) out.write(`${note}\n`);
    });

  program.command('client')
    .allowExcessArguments(false)
    .description('issue clients/NAME.pem and clients/NAME.key for a backed-up node; a copy of the certificate goes to issued/. '
      + 'Refused while NAME has a certificate that is not revoked, unless --replace')
    .argument('<name>', 'client name, also the certificate CN')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA', pathArgument(rawArgs))
    .option('--days <n>', 'validity in days', positiveInteger, 825)
    .option('--replace', 'revoke every certificate of NAME that is not revoked yet (and move clients/NAME.* aside), then write the new one')
    .action(async (name: string, options: { dir: string; days: number; replace?: boolean }) => {
      const files = await issueClientCertificate(options.dir, name, { days: options.days, replace: options.replace === true, lock: lockWait });
      if (files.replaced !== undefined) {
        out.write(files.replaced.revoked.length === 0 ? `nothing to replace: ${name} had no certificate that is not revoked\n` : revocationReport(files.replaced));
      }
      out.write(`wrote ${files.cert} (serial ${files.serial})\nwrote ${files.key}\nnode.conf on ${name}:\n` +
        `  ssl_cert = ${files.cert}\n  ssl_key = ${files.key}\n  ssl_ca = ${caFiles(path.resolve(options.dir)).caCert}\n` +
        `on the server, file <clientconfdir>/${name}:\n  ssl_peer_cn = ${name}\n`);
      if (files.replaced !== undefined && files.replaced.revoked.length > 0) {
        out.write(`on the server: copy ${files.replaced.crl} to the ssl_crl path of server.conf, then send SIGHUP; ` +
          `from then on only the new certificate of ${name} is accepted\n`);
      }
      if (files.replaced?.note !== undefined) out.write(`${files.replaced.note}\n`);
      const note = await outlivesCaNote(files.cert, caFiles(path.resolve(options.dir)).caCert);
      if (note !== undefined) out.write(`${note}\n`);
    });

  program.command('revoke')
    .allowExcessArguments(false)
    .description('revoke every certificate ever issued for NAME that is not revoked yet (or one: --serial, --cert) and rewrite crl.pem; '
      + 'the server refuses them from its next start or SIGHUP')
    .argument('[name]', 'client name (the certificate CN)')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA', pathArgument(rawArgs))
    .option('--serial <hex>', 'revoke the one certificate, client or server, with this serial (as `list` or openssl shows it), even if its file is gone')
    .option('--cert <file>', 'revoke the certificate in this file (a node\'s copy, a server\'s); it must be signed by this CA', pathArgument(rawArgs))
    .action(async (name: string | undefined, options: { dir: string; serial?: string; cert?: string }, command: Command) => {
      const given = [name, options.serial, options.cert].filter((value) => value !== undefined).length;
      if (given !== 1) command.error(`revoke takes exactly one of NAME, --serial HEX or --cert FILE (got ${given})`);
      const revocation = options.serial !== undefined ? await revokeSerial(options.dir, options.serial, lockWait)
        : options.cert !== undefined ? await revokeCertificateFile(options.dir, options.cert, lockWait)
          : await revokeClientCertificate(options.dir, name ?? '', lockWait);
      out.write(revocationReport(revocation) +
        `on the server: copy it to the ssl_crl path of server.conf (default: crl.pem beside ssl_ca), then send SIGHUP\n`);
      // Only by name: after one serial, another certificate of the name may still be live.
      if (name !== undefined) out.write(`a new certificate for ${name}: cpsbackup-ca client --dir ${options.dir} ${name}\n`);
      if (revocation.note !== undefined) out.write(`${revocation.note}\n`);
    });

  program.command('list')
    .allowExcessArguments(false)
    .description('list the certificates this CA issued: name, kind (client or server), serial, expiry, and whether revoked or expired')
    .argument('[name]', 'only this client\'s certificates')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA', pathArgument(rawArgs))
    .action(async (name: string | undefined, options: { dir: string }) => {
      const listed = await listCertificates(options.dir, name);
      out.write(certificateTable(listed.certificates));
      if (listed.note !== undefined) out.write(`${listed.note}\n`);
    });

  program.command('crl')
    .allowExcessArguments(false)
    .description('rewrite crl.pem from the revocations so far (renews its validity; none yet: an empty list)')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA', pathArgument(rawArgs))
    .action(async (options: { dir: string }) => {
      const { crl, listedCount } = await renewRevocationList(options.dir, lockWait);
      out.write(`wrote ${crl} (${listedCount} revoked, valid 3650 days)\nserver.conf:\n  ssl_crl = ${crl}\n`);
    });
  // --host is repeatable (every name goes into the certificate); any other option given twice is refused.
  return refuseRepeatedOptions(program, new Set(['host']));
}

function revocationReport(revocation: Revocation): string {
  const lines = revocation.revoked.map((entry) => {
    const who = entry.commonName === undefined ? 'a certificate not in the record'
      : entry.kind === 'server' ? `the server certificate of ${entry.commonName}` : entry.commonName;
    const where = entry.movedTo !== undefined ? `; its certificate moved to ${entry.movedTo}, its key deleted`
      : entry.keptAt !== undefined ? `; ${entry.keptAt} and its key stay in place, for a server running from them must still start: `
        + `issue the server a new one with cpsbackup-ca server --dir ${path.dirname(entry.keptAt)} --name ${entry.commonName ?? 'NAME'} `
        + '(it moves the revoked pair aside), then restart the server or send it SIGHUP'
        : entry.isKnown ? '' : ' (revoked as given: check it is the serial you meant)';
    return `revoked ${who} (serial ${entry.serial})${where}\n`;
  });
  // Said where it is done: an operator who revokes a server certificate expects nodes to stop trusting it, and they do not.
  const servers = revocation.revoked.filter((entry) => entry.kind === 'server').map((entry) => `${entry.commonName ?? '?'} (serial ${entry.serial}, `
    + `until ${entry.notAfter === undefined ? '?' : minuteUtc(entry.notAfter)})`);
  const serverNote = servers.length === 0 ? '' : `on each node: copy it to the ssl_crl path of node.conf; a node without ssl_crl `
    + `goes on trusting the server certificate of ${servers.join(', ')} until it expires. Issue the server a new one with `
    + '`cpsbackup-ca server`; if its key may have been stolen and a node has no ssl_crl, only a new CA (and new certificates '
    + 'for the server and every node) stops that node trusting it\n';
  return `${lines.join('')}wrote ${revocation.crl} (${revocation.listedCount} revoked)\n${serverNote}`;
}

/**
 * `argv` holds the user's arguments only (process.argv.slice(2)); returns the exit code. rawArgs: the
 * arguments as the shell passed them (raw-arguments.ts), to refuse a path that is not UTF-8.
 */
export async function main(argv: string[], out: Output = process.stdout, err: Output = process.stderr,
  rawArgs: () => readonly Buffer[] | undefined = () => undefined): Promise<number> {
  const program = buildProgram(out, err, rawArgs);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are successful exits that commander reports by throwing.
      if (error.exitCode === 0) return 0;
      // No subcommand: commander has already printed the help to stderr.
      if (error.code === 'commander.help') return exitUsage;
      err.write(`cpsbackup-ca: ${error.message.replace(/^error: /, '')}\n`);
      return exitUsage;
    }
    if (error instanceof BackupError && (error.code === 'CONFIG' || error.code === 'NOT_FOUND')) {
      err.write(`cpsbackup-ca: ${error.message}\n`);
      return exitUsage;
    }
    err.write(`cpsbackup-ca: ${errorMessage(error).split('\n')[0]}\n`);
    return exitFailure;
  }
}

if (require.main === module) {
  // A reader gone (`cpsbackup-ca list | head`, a closed stderr while it waits for the CA lock): the
  // certificate is still issued or revoked, and the exit code says so.
  surviveClosedOutput();
  main(process.argv.slice(2), process.stdout, process.stderr, () => rawArguments()).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`cpsbackup-ca: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
