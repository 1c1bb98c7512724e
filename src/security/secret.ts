/**
 * The shared cluster secret (`-cluster-secret-file`): loading it, and the keyed MACs built on it.
 *
 * Why HMAC over length-prefixed parts: a MAC over a plain concatenation would let "ab"+"c" and
 * "a"+"bc" collide; prefixing each part with its length makes every input unambiguous. Every MAC
 * starts with a purpose label, so a proof made for one step (peer handshake, join) can never be
 * replayed as another. The secret itself never leaves the node.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { GraftdError } from '../errors.ts';

/** Shortest accepted secret, in bytes (after trimming the trailing newline). */
export const MIN_SECRET_BYTES = 16;
const MAX_SECRET_BYTES = 4096;

/** What loadClusterSecret found beside the secret (warnings to log). */
export interface LoadedSecret {
  readonly secret: Buffer;
  /** Non-empty when the file is readable by group or others. */
  readonly warning: string;
}

/** Read the secret file. Throws GRAFTD_BAD_CONFIG when missing, unreadable, too short or too long. */
export function loadClusterSecret(file: string): LoadedSecret {
  let raw: Buffer;
  let mode = 0;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_SECRET_BYTES + 2) throw new Error(`larger than ${MAX_SECRET_BYTES} bytes`);
    mode = st.mode;
    raw = fs.readFileSync(file);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new GraftdError('GRAFTD_BAD_CONFIG', `cluster secret file ${file}: cannot read it (${why})`);
  }
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === 0x0a || raw[end - 1] === 0x0d)) end--;
  const secret = Buffer.from(raw.subarray(0, end));
  if (secret.length < MIN_SECRET_BYTES)
    throw new GraftdError(
      'GRAFTD_BAD_CONFIG',
      `cluster secret file ${file}: the secret has ${secret.length} bytes, at least ${MIN_SECRET_BYTES} are required (e.g. openssl rand -hex 32 > ${file})`,
    );
  const warning =
    (mode & 0o077) !== 0 ? `cluster secret file ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : '';
  return { secret, warning };
}

/** HMAC-SHA256 of a purpose label and parts, each length-prefixed. */
export function mac(secret: Uint8Array, purpose: string, ...parts: ReadonlyArray<string | Uint8Array>): Buffer {
  const h = createHmac('sha256', secret);
  for (const part of [purpose, ...parts]) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(bytes.length, 0);
    h.update(len);
    h.update(bytes);
  }
  return h.digest();
}

/** Constant-time equality that is false (not throwing) on different lengths. */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}
