// A private CA and a server certificate for 127.0.0.1/localhost, made by openssl in a temp dir, for TLS tests.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './temp-dir.ts';

export interface TestCertificates {
  dir: string;
  /** The CA that signed the server certificate (PEM file and text). */
  caFile: string;
  ca: string;
  /** A CA that signed nothing here: trusting it alone must refuse the server. */
  otherCaFile: string;
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  const files = ['-keyout', `${name}.key`, '-out', `${name}.pem`];
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', ...files, '-days', '2', '-subj', `/CN=${name}`]);
}

/** Made once per call (about 0.2 s): a CA, another CA, and a server certificate the first one signed. */
export function makeTestCertificates(): TestCertificates {
  const dir = tempDir('certs');
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  const signer = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'];
  openssl(dir, ['x509', '-req', '-in', 'server.csr', ...signer, '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext']);
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file('ca.pem'),
    ca: readFileSync(file('ca.pem'), 'utf8'),
    otherCaFile: file('other-ca.pem'),
    certFile: file('server.pem'),
    keyFile: file('server.key'),
    cert: readFileSync(file('server.pem'), 'utf8'),
    key: readFileSync(file('server.key'), 'utf8'),
  };
}
