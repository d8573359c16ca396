#!/usr/bin/env node
// cpsbackup-ca: creates the backup CA and issues server and client certificates (see etc/ssl).
// Prints where each file went and the config lines that use it; one-line errors, exit 2 for user errors.
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import path from 'node:path';
import { BackupError, errorMessage } from '../common/errors';
import { caFiles, initCertificateAuthority, issueClientCertificate, issueServerCertificate } from '../common/tls/ca';
import { revokeClientCertificate, revokedSerials, writeRevocationList } from '../common/tls/ca-revoke';

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

function buildProgram(out: Output, err: Output): Command {
  const program = new Command('cpsbackup-ca')
    .description('Create the cpsbackup certificate authority and issue certificates')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => out.write(text),
      writeErr: (text) => err.write(text),
      // main() prints commander's errors itself, as one line.
      outputError: () => undefined,
    });

  program.command('init')
    .allowExcessArguments(false)
    .description('create ca.pem and ca.key (0600) in the folder; refuses to overwrite')
    .requiredOption('--dir <folder>', 'certificate folder, e.g. etc/ssl')
    .option('--cn <name>', 'CA common name', 'cpsbackup CA')
    .option('--days <n>', 'validity in days', positiveInteger, 3650)
    .action(async (options: { dir: string; cn: string; days: number }) => {
      const files = await initCertificateAuthority(options.dir, { commonName: options.cn, days: options.days });
      out.write(`wrote ${files.caCert}\nwrote ${files.caKey} (keep it secret, keep it off the backup network)\n` +
        `server.conf and node.conf:\n  ssl_ca = ${files.caCert}\n`);
    });

  program.command('server')
    .allowExcessArguments(false)
    .description('issue server.pem and server.key for the backup server')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA')
    .requiredOption('--name <dns-name>', 'server DNS name (also gets DNS:localhost and IP:127.0.0.1)')
    .option('--host <name-or-ip>', 'extra subject alternative name; repeatable', collect, [])
    .option('--days <n>', 'validity in days', positiveInteger, 825)
    .action(async (options: { dir: string; name: string; host: string[]; days: number }) => {
      const files = await issueServerCertificate(options.dir, options.name, { hosts: options.host, days: options.days });
      out.write(`wrote ${files.cert}\nwrote ${files.key}\nserver.conf:\n` +
        `  ssl_cert = ${files.cert}\n  ssl_key = ${files.key}\n  ssl_ca = ${caFiles(path.resolve(options.dir)).caCert}\n` +
        `node.conf:\n  server = ${options.name}\n`);
    });

  program.command('client')
    .allowExcessArguments(false)
    .description('issue clients/NAME.pem and clients/NAME.key for a backed-up node')
    .argument('<name>', 'client name, also the certificate CN')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA')
    .option('--days <n>', 'validity in days', positiveInteger, 825)
    .action(async (name: string, options: { dir: string; days: number }) => {
      const files = await issueClientCertificate(options.dir, name, { days: options.days });
      out.write(`wrote ${files.cert}\nwrote ${files.key}\nnode.conf on ${name}:\n` +
        `  ssl_cert = ${files.cert}\n  ssl_key = ${files.key}\n  ssl_ca = ${caFiles(path.resolve(options.dir)).caCert}\n` +
        `on the server, file <clientconfdir>/${name}:\n  ssl_peer_cn = ${name}\n`);
    });

  program.command('revoke')
    .allowExcessArguments(false)
    .description('revoke clients/NAME.pem and rewrite crl.pem; the server refuses it from its next start or SIGHUP')
    .argument('<name>', 'client name (the certificate CN)')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA')
    .action(async (name: string, options: { dir: string }) => {
      const revoked = await revokeClientCertificate(options.dir, name);
      const count = (await revokedSerials(options.dir)).length;
      out.write(`revoked ${name} (serial ${revoked.serial}); its certificate moved to ${revoked.movedTo}, its key deleted\n` +
        `wrote ${revoked.crl} (${count} revoked)\n` +
        `on the server: copy it to the ssl_crl path of server.conf (default: crl.pem beside ssl_ca), then send SIGHUP\n` +
        `a new certificate for ${name}: cpsbackup-ca client --dir ${options.dir} ${name}\n`);
    });

  program.command('crl')
    .allowExcessArguments(false)
    .description('rewrite crl.pem from the revocations so far (renews its validity; none yet: an empty list)')
    .requiredOption('--dir <folder>', 'certificate folder holding the CA')
    .action(async (options: { dir: string }) => {
      const crl = await writeRevocationList(options.dir);
      out.write(`wrote ${crl} (${(await revokedSerials(options.dir)).length} revoked, valid 3650 days)\nserver.conf:\n  ssl_crl = ${crl}\n`);
    });
  return program;
}

/** `argv` holds the user's arguments only (process.argv.slice(2)); returns the exit code. */
export async function main(argv: string[], out: Output = process.stdout, err: Output = process.stderr): Promise<number> {
  const program = buildProgram(out, err);
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
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`cpsbackup-ca: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
