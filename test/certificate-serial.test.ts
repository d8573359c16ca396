// Regression: a serial was spelt two ways, whole-byte for openssl's index (serialSpelling) and without
// leading zeros for comparisons and logs (normalSerial); the second, written into the index, made openssl
// refuse it (commit 0b297a5), and the server's log named a serial the CA's list spelt otherwise. Now one
// type and one function own the spelling: every form openssl, Node or an operator gives reads as the
// same CertificateSerial, whole bytes, and no source reads a certificate's serial around it. (What openssl
// prints of a real certificate is read the same way too: ca.test.ts, which needs the openssl CLI.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { certificateSerial, parseCertificateSerial } from '../src/common/tls/certificate-serial';

test('every spelling of one serial, leading zeros or not, any case, openssl\'s forms, reads as one whole-byte serial', () => {
  const forms: ReadonlyArray<readonly [string, string]> = [
    ['0A1B2C', '0A1B2C'], ['A1B2C', '0A1B2C'], ['a1b2c', '0A1B2C'], ['000A1B2C', '0A1B2C'], ['00000a1b2c', '0A1B2C'],
    ['0x0a1b2c', '0A1B2C'], ['0XA1B2C', '0A1B2C'], ['serial=0A1B2C', '0A1B2C'], ['0a:1b:2c', '0A1B2C'], ['a:1b:2c', '0A1B2C'],
    ['00:0a:1b:2c', '0A1B2C'], [' serial=0A1B2C\n', '0A1B2C'],
    // A DER INTEGER with its sign byte (a CRL's entry), and the same serial as Node prints it.
    ['008f00', '8F00'], ['8F00', '8F00'],
    ['0', '00'], ['00', '00'], ['000', '00'], ['1', '01'],
  ];
  for (const [form, expected] of forms) {
    const serial = certificateSerial(form);
    assert.equal(serial, expected, `"${form}"`);
    assert.equal(serial.length % 2, 0, `"${form}" is spelt in whole bytes`);
    assert.equal(certificateSerial(serial), serial, 'the spelling is its own spelling');
  }
  for (const bad of ['', 'serial=', '0x', 'xyz', '0a:1b2:3c', '0a::1b', '12 34', '-1']) {
    assert.equal(parseCertificateSerial(bad), undefined, `"${bad}" is no serial`);
    assert.throws(() => certificateSerial(bad), /is not a certificate serial number in hex/);
  }
});

test('no source reads a certificate\'s serial but through certificateSerial or parseCertificateSerial', () => {
  const sourceRoot = path.resolve(__dirname, '..', '..', 'src');
  const sources: string[] = [];
  const walk = (folder: string): void => {
    for (const name of readdirSync(folder)) {
      const file = path.join(folder, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (file.endsWith('.ts') && !file.includes(`${path.sep}proto${path.sep}`)) sources.push(file);
    }
  };
  walk(sourceRoot);
  assert.ok(sources.length > 100, `${sources.length} sources under ${sourceRoot}`);
  for (const file of sources) {
    const text = readFileSync(file, 'utf8')
      .replace(/(?:parseC|c)ertificateSerial\([\w.()]*?\.serialNumber\)/g, '')
      .replace(/typeof [\w.()]*?\.serialNumber === 'string'/g, '');
    const line = text.split('\n').find((candidate) => candidate.includes('serialNumber'));
    assert.equal(line, undefined, `${path.relative(sourceRoot, file)} reads a serial in a spelling of its own: ${line?.trim()}`);
  }
});
