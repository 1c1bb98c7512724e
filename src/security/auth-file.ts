/**
 * The users-and-roles file (`-auth-file PATH`): its format, validation, password hashing and
 * atomic rewrite (`graftctl user add`).
 *
 * Why scrypt for passwords and SHA-256 for tokens: passwords are chosen by people and must be
 * slow to guess from a stolen file; tokens are 32 random bytes, so a fast hash is enough and
 * lets every request be checked without a slow KDF. Why a file (not the replicated store):
 * a node must be able to authenticate before it has a leader or any data, and an operator must
 * be able to recover access with a text editor.
 *
 * Format (JSON, version 1):
 * {
 *   "version": 1,
 *   "users":  [{ "name": "alice", "role": "admin", "password": "scrypt$16384$8$1$<salt b64>$<hash b64>" }],
 *   "tokens": [{ "name": "ci", "role": "write", "sha256": "<hex of sha256(token)>" }]
 * }
 * Roles, each including the ones before it: read < write < admin.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GraftdError } from '../errors.ts';

export type Role = 'read' | 'write' | 'admin';
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export interface UserEntry {
  readonly name: string;
  readonly role: Role;
  /** `scrypt$N$r$p$<salt base64>$<hash base64>` */
  readonly password: string;
}

export interface TokenEntry {
  readonly name: string;
  readonly role: Role;
  /** Hex SHA-256 of the token string. */
  readonly sha256: string;
}

export interface AuthFile {
  readonly version: 1;
  readonly users: readonly UserEntry[];
  readonly tokens: readonly TokenEntry[];
}

/** The identity a request runs as once authenticated. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
  /** 'peer': a node proving the cluster secret (read only, src/security/peer-read-proof.ts). */
  readonly kind: 'user' | 'token' | 'peer';
}

/** Does `have` include everything `need` allows? */
export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

const MAX_AUTH_FILE_BYTES = 4 * 1024 * 1024;
const NAME_RE = /^[A-Za-z0-9_.@-]{1,64}$/;
/** Defaults: 16 MiB of memory per hash, ~50 ms on a modern core. */
const SCRYPT_N = 16384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_BYTES = 32;
const SCRYPT_MAX_N = 1 << 20;

function bad(file: string, detail: string): GraftdError {
  return new GraftdError('GRAFTD_BAD_CONFIG', `auth file ${file}: ${detail}`);
}

/** Validate a parsed auth file. Throws GRAFTD_BAD_CONFIG naming the first problem. */
export function validateAuthFile(value: unknown, file = '(auth file)'): AuthFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(file, 'expected a JSON object');
  const v = value as Record<string, unknown>;
  if (v.version !== 1) throw bad(file, `"version" must be 1, found ${JSON.stringify(v.version)}`);
  const usersRaw = v.users ?? [];
  const tokensRaw = v.tokens ?? [];
  if (!Array.isArray(usersRaw)) throw bad(file, '"users" must be an array');
  if (!Array.isArray(tokensRaw)) throw bad(file, '"tokens" must be an array');
  const names = new Set<string>();
  const users: UserEntry[] = usersRaw.map((u: unknown, i: number) => {
    if (typeof u !== 'object' || u === null) throw bad(file, `users[${i}] must be an object`);
    const { name, role, password } = u as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw bad(file, `users[${i}].name must match ${NAME_RE.source}`);
    if (names.has(`u:${name}`)) throw bad(file, `user ${JSON.stringify(name)} appears twice`);
    names.add(`u:${name}`);
    if (!ROLES.includes(role as Role)) throw bad(file, `users[${i}].role must be one of ${ROLES.join(', ')}`);
    if (typeof password !== 'string' || parseScrypt(password) === null)
      throw bad(file, `users[${i}].password must be an scrypt hash made by "graftctl user add"`);
    return { name, role: role as Role, password };
  });
  const tokens: TokenEntry[] = tokensRaw.map((t: unknown, i: number) => {
    if (typeof t !== 'object' || t === null) throw bad(file, `tokens[${i}] must be an object`);
    const { name, role, sha256 } = t as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME_RE.test(name)) throw bad(file, `tokens[${i}].name must match ${NAME_RE.source}`);
    if (names.has(`t:${name}`)) throw bad(file, `token ${JSON.stringify(name)} appears twice`);
    names.add(`t:${name}`);
    if (!ROLES.includes(role as Role)) throw bad(file, `tokens[${i}].role must be one of ${ROLES.join(', ')}`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw bad(file, `tokens[${i}].sha256 must be 64 hex digits`);
    return { name, role: role as Role, sha256 };
  });
  return { version: 1, users, tokens };
}

/** Read and validate an auth file. Throws GRAFTD_BAD_CONFIG (missing, unreadable, too large, invalid). */
export function loadAuthFile(file: string): AuthFile {
  let text: string;
  try {
    const st = fs.statSync(file);
    if (st.size > MAX_AUTH_FILE_BYTES) throw bad(file, `larger than ${MAX_AUTH_FILE_BYTES} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof GraftdError) throw err;
    throw bad(file, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw bad(file, `not valid JSON (${(err as Error).message})`);
  }
  return validateAuthFile(parsed, file);
}

/** An empty auth file (no users; every authenticated route then refuses everyone). */
export function emptyAuthFile(): AuthFile {
  return { version: 1, users: [], tokens: [] };
}

interface ScryptParams {
  readonly n: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function parseScrypt(s: string): ScryptParams | null {
  const parts = s.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [n, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (!Number.isInteger(n) || n < 2 || n > SCRYPT_MAX_N || (n & (n - 1)) !== 0) return null;
  if (!Number.isInteger(r) || r < 1 || r > 32 || !Number.isInteger(p) || p < 1 || p > 16) return null;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const hash = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length < 8 || hash.length < 16) return null;
  return { n, r, p, salt, hash };
}

function scrypt(password: string, salt: Buffer, keyLen: number, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keyLen, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hash a password for the auth file (random 16-byte salt). `n` is lowered only by tests. */
export async function hashPassword(password: string, n = SCRYPT_N): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEY_BYTES, n, SCRYPT_R, SCRYPT_P);
  return `scrypt$${n}$${SCRYPT_R}$${SCRYPT_P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** Constant-time check of `password` against an auth-file hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const params = parseScrypt(stored);
  if (params === null) return false;
  const hash = await scrypt(password, params.salt, params.hash.length, params.n, params.r, params.p);
  return timingSafeEqual(hash, params.hash);
}

/** A new bearer token: 32 random bytes, base64url, prefixed so it is recognisable in a leaked log. */
export function generateToken(): string {
  return `gtd_${randomBytes(32).toString('base64url')}`;
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Find the token's entry (constant-time compare of the hashes). */
export function findToken(auth: AuthFile, token: string): TokenEntry | undefined {
  const h = Buffer.from(tokenSha256(token), 'hex');
  let found: TokenEntry | undefined;
  for (const t of auth.tokens) {
    if (timingSafeEqual(h, Buffer.from(t.sha256, 'hex'))) found = t;
  }
  return found;
}

/** Write `auth` to `file` atomically (temp, fsync, rename) with mode 0600. */
export function writeAuthFile(file: string, auth: AuthFile): void {
  const validated = validateAuthFile(auth, file);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, `${JSON.stringify(validated, null, 2)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Add or replace user `name` (a new password hash) in `auth`. */
export async function withUser(auth: AuthFile, name: string, role: Role, password: string, n?: number): Promise<AuthFile> {
  if (!NAME_RE.test(name)) throw new GraftdError('GRAFTD_BAD_CONFIG', `user name must match ${NAME_RE.source}`);
  if (password.length === 0) throw new GraftdError('GRAFTD_BAD_CONFIG', 'the password must not be empty');
  const entry: UserEntry = { name, role, password: await hashPassword(password, n) };
  return { version: 1, users: [...auth.users.filter((u) => u.name !== name), entry], tokens: auth.tokens };
}

/** Add or replace token `name`; returns the new file and the token (shown once, never stored). */
export function withToken(auth: AuthFile, name: string, role: Role): { auth: AuthFile; token: string } {
  if (!NAME_RE.test(name)) throw new GraftdError('GRAFTD_BAD_CONFIG', `token name must match ${NAME_RE.source}`);
  const token = generateToken();
  const entry: TokenEntry = { name, role, sha256: tokenSha256(token) };
  return { auth: { version: 1, users: auth.users, tokens: [...auth.tokens.filter((t) => t.name !== name), entry] }, token };
}
