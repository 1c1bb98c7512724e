/**
 * Shared fixtures of the HTTP security tests: an auth file with one user and one token per
 * role (fast scrypt parameters), and Authorization header values for them.
 *
 * Why: the role matrix, the forwarding and the live-view tests all need the same principals.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { emptyAuthFile, withToken, withUser, writeAuthFile } from '../../src/security/auth-file.ts';
import type { Role } from '../../src/security/auth-file.ts';
import { HttpSecurity } from '../../src/security/http-security.ts';
import type { HttpSecurityConfig } from '../../src/security/http-security.ts';

export interface AuthFixture {
  readonly dir: string;
  readonly file: string;
  /** Authorization header values per principal. */
  readonly basic: Readonly<Record<Role, string>>;
  readonly bearer: Readonly<Record<Role, string>>;
  readonly tokens: Readonly<Record<Role, string>>;
  cleanup(): void;
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Users reader/writer/admin (password "<name>-pw") and tokens read/write/admin. */
export async function makeAuthFixture(): Promise<AuthFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'graftd-auth-'));
  const file = path.join(dir, 'auth.json');
  let auth = emptyAuthFile();
  const names: Record<Role, string> = { read: 'reader', write: 'writer', admin: 'admin' };
  const tokens: Partial<Record<Role, string>> = {};
  for (const role of ['read', 'write', 'admin'] as const) {
    auth = await withUser(auth, names[role], role, `${names[role]}-pw`, 16);
    const made = withToken(auth, `${role}-token`, role);
    auth = made.auth;
    tokens[role] = made.token;
  }
  writeAuthFile(file, auth);
  const t = tokens as Record<Role, string>;
  return {
    dir,
    file,
    basic: {
      read: basicHeader('reader', 'reader-pw'),
      write: basicHeader('writer', 'writer-pw'),
      admin: basicHeader('admin', 'admin-pw'),
    },
    bearer: { read: `Bearer ${t.read}`, write: `Bearer ${t.write}`, admin: `Bearer ${t.admin}` },
    tokens: t,
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** An HttpSecurity with `insecure: false` and the given config. */
export function security(config: Partial<HttpSecurityConfig> = {}): HttpSecurity {
  return new HttpSecurity({ insecure: false, ...config });
}
