import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as selfsigned from 'selfsigned';

export interface TlsMaterial {
  key: string;
  cert: string;
  certPath: string;
  keyPath: string;
}

/**
 * Loads the workspace's self-signed certificate from the data directory, creating it on first start. The key pair
 * comes from node:crypto because selfsigned's pure-JS RSA generation takes seconds.
 */
export function loadOrCreateCertificate(dataDir: string, host: string): TlsMaterial {
  const certPath = join(dataDir, 'cert.pem');
  const keyPath = join(dataDir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    if (coversHost(cert, host) && !expired(cert)) {
      return { key: readFileSync(keyPath, 'utf8'), cert, certPath, keyPath };
    }
  }
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const altNames: { type: number; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  if (host && host !== '0.0.0.0' && host !== '::' && host !== '127.0.0.1' && host !== 'localhost') {
    altNames.push(isIP(host) ? { type: 7, ip: host } : { type: 2, value: host });
  }
  // `keyPair` is honoured by selfsigned 2.x but missing from its typings.
  const options = {
    keyPair: { publicKey, privateKey },
    days: 825,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  } as Parameters<typeof selfsigned.generate>[1];
  const pems = selfsigned.generate([{ name: 'commonName', value: 'Champion local workspace' }], options);
  writeFileSync(keyPath, privateKey, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { key: privateKey, cert: pems.cert, certPath, keyPath };
}

function coversHost(cert: string, host: string): boolean {
  if (!host || host === '0.0.0.0' || host === '::' || host === '127.0.0.1' || host === 'localhost') return true;
  const x = new X509Certificate(cert);
  return isIP(host) ? x.checkIP(host) !== undefined : x.checkHost(host) !== undefined;
}

function expired(cert: string): boolean {
  const notAfter = Date.parse(new X509Certificate(cert).validTo);
  return Number.isFinite(notAfter) && notAfter < Date.now() + 24 * 3600_000;
}
