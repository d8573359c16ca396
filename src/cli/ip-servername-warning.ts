// grpc-js passes the server's address as the TLS server name, and Node warns (DEP0123) when that is
// an IP address. Connecting by IP to a certificate with an IP SAN is correct, so only that warning
// is dropped; every other warning is still printed as Node would.
export function silenceIpServerNameWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code === 'DEP0123') return;
    process.stderr.write(`${warning.name}${warning.code ? ` [${warning.code}]` : ''}: ${warning.message}\n`);
  });
}
