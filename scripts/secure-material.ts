/**
 * `npx tsx scripts/secure-material.ts DIR NAME...`: everything a secure cluster needs, made once —
 * a CA, one certificate per node name (DNS name NAME and 127.0.0.1, serverAuth + clientAuth), a
 * cluster secret and an auth file with an `admin` user whose password is written beside it.
 *
 * Why a script: `npm start -- --secure` and docker-compose.secure.yml need the same material, and
 * an operator trying graftd should not have to type a dozen openssl commands first (they are in
 * docs/security.md for production, where the CA belongs to the operator). Existing material in DIR
 * is kept (running it again is a no-op), so restarts keep their certificates and password.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { emptyAuthFile, withUser, writeAuthFile } from '../src/security/auth-file.ts';
import { createTestPki } from './pki.ts';

export interface SecureMaterial {
  readonly dir: string;
  readonly ca: string;
  readonly secretFile: string;
  readonly authFile: string;
  readonly passwordFile: string;
  readonly password: string;
  readonly certs: ReadonlyMap<string, { readonly cert: string; readonly key: string }>;
}

/** Make (or reuse) the material for `names` in `dir`. */
export async function secureMaterial(
  dir: string,
  names: readonly string[],
  ips: readonly string[] = ['127.0.0.1'],
): Promise<SecureMaterial> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secretFile = join(dir, 'cluster-secret');
  const authFile = join(dir, 'users.json');
  const passwordFile = join(dir, 'admin-password');
  const certs = new Map(names.map((n) => [n, { cert: join(dir, `${n}.crt`), key: join(dir, `${n}.key`) }]));
  const missing = [...certs.entries()].filter(([, c]) => !existsSync(c.cert) || !existsSync(c.key)).map(([n]) => n);
  if (!existsSync(join(dir, 'test-ca.crt')) || missing.length > 0) {
    if (existsSync(join(dir, 'test-ca.key')) && missing.length < names.length)
      throw new Error(`${dir} holds a CA and some certificates but not for ${missing.join(', ')}: use a new directory`);
    const pki = createTestPki(dir);
    for (const n of names) pki.issue(n, { ips, dns: [n] });
    for (const c of certs.values()) chmodSync(c.key, 0o600);
  }
  if (!existsSync(secretFile)) writeFileSync(secretFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  if (!existsSync(passwordFile)) {
    const password = randomBytes(12).toString('base64url');
    writeAuthFile(authFile, await withUser(emptyAuthFile(), 'admin', 'admin', password));
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  }
  return {
    dir,
    ca: join(dir, 'test-ca.crt'),
    secretFile,
    authFile,
    passwordFile,
    password: readFileSync(passwordFile, 'utf8').trim(),
    certs,
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, ...names] = process.argv.slice(2);
  if (dir === undefined || names.length === 0) {
    process.stderr.write('usage: npx tsx scripts/secure-material.ts DIR NODE_NAME...\n');
    process.exit(2);
  }
  secureMaterial(dir, names).then(
    (m) => {
      process.stdout.write(
        `material in ${m.dir}: CA ${m.ca}, secret ${m.secretFile}, users ${m.authFile}; admin password in ${m.passwordFile}\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
