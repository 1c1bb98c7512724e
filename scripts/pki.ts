/**
 * Throw-away certificates made with `openssl` (never committed): a CA, node certificates valid for
 * serverAuth and clientAuth on loopback addresses, an expired one, and a certificate from an
 * unrelated CA. Used by the tests (test/helpers/certs.ts), `npm start -- --secure`, the secure
 * chaos run and the secure benchmark.
 *
 * Why generated: private keys must not live in the repository, and each run gets fresh ones.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** CA certificate file (PEM). */
  readonly ca: string;
  /** A certificate of the CA per name, valid now, SANs: 127.0.0.0/8 addresses given + localhost. */
  issue(name: string, opts?: { expired?: boolean; ips?: readonly string[]; dns?: readonly string[] }): CertPair;
  /** A certificate signed by a different CA (its CA file is `otherCa`). */
  readonly otherCa: string;
  issueOther(name: string): CertPair;
  /** Remove the directory. */
  cleanup(): void;
}

const DEFAULT_IPS = ['127.0.0.1', ...Array.from({ length: 40 }, (_, i) => `127.0.0.${10 + i}`)];

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '30',
      '-subj',
      `/CN=${name}`,
    ],
    dir,
  );
  return { cert, key };
}

function issueFrom(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  ips: readonly string[],
  expired: boolean,
  dns: readonly string[] = [],
): CertPair {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`],
    dir,
  );
  const san = ['DNS:localhost', ...dns.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  fs.writeFileSync(
    ext,
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`,
  );
  if (!expired) {
    openssl(
      ['x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-out', cert, '-days', '30', '-extfile', ext],
      dir,
    );
  } else {
    // `openssl ca` can set a validity window in the past (x509 -req cannot on OpenSSL 3.0).
    const db = path.join(dir, `${name}-db`);
    fs.mkdirSync(db, { recursive: true });
    fs.writeFileSync(path.join(db, 'index.txt'), '');
    fs.writeFileSync(path.join(db, 'serial'), '1000\n');
    const conf = path.join(dir, `${name}-ca.cnf`);
    fs.writeFileSync(
      conf,
      `[ca]\ndefault_ca=tca\n[tca]\ndatabase=${db}/index.txt\nserial=${db}/serial\nnew_certs_dir=${db}\ncertificate=${ca.cert}\nprivate_key=${ca.key}\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n[ext]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${san}\n`,
    );
    openssl(
      [
        'ca',
        '-batch',
        '-config',
        conf,
        '-in',
        csr,
        '-out',
        cert,
        '-startdate',
        '20200101000000Z',
        '-enddate',
        '20200102000000Z',
        '-extensions',
        'ext',
        '-notext',
      ],
      dir,
    );
  }
  return { cert, key };
}

/** Create a fresh PKI in `dir` (default: a new temp directory). Synchronous (openssl runs a few times, ~50 ms each). */
export function createTestPki(dirIn?: string): TestPki {
  const dir = dirIn ?? fs.mkdtempSync(path.join(os.tmpdir(), 'graftd-pki-'));
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = makeCa(dir, 'test-ca');
  const other = makeCa(dir, 'other-ca');
  return {
    dir,
    ca: ca.cert,
    otherCa: other.cert,
    issue: (name, opts = {}) => issueFrom(dir, ca, name, opts.ips ?? DEFAULT_IPS, opts.expired === true, opts.dns ?? []),
    issueOther: (name) => issueFrom(dir, other, `other-${name}`, DEFAULT_IPS, false),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
