/**
 * The backup file graftctl writes: a small checksummed metadata header in front of the
 * key-value snapshot that GET /snapshot serves.
 *
 * Why a header: a bare snapshot says nothing about where it came from, so a restore could not
 * tell that it was given another member's addresses, and `graftctl snapshot status` could not
 * name the cluster, term, index or members. The header is written by the client from the
 * leader's /status (read just before the backup, so the data is at least as recent as `index`);
 * the data part is the server's bytes, unchanged, with their own CRC-32 trailer.
 *
 * Layout (integers big-endian):
 *   'GRAFTDBK' (8 bytes) | version u32 (= 1) | metaLen u32 | meta JSON UTF-8 (metaLen bytes)
 *   | crc32 u32 of the meta bytes | the kv snapshot ('GRAFTDKV' ..., src/kv/snapshot-format.ts)
 *
 * A bare kv snapshot (curl GET /snapshot, or graftctl before this header existed) is still a
 * valid backup: it just has no metadata.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { GraftdError } from '../errors.ts';
import type { KvStore } from '../kv/index.ts';
import type { MemberView } from '../node/api.ts';

const MAGIC = Buffer.from('GRAFTDBK', 'latin1');
const KV_MAGIC = Buffer.from('GRAFTDKV', 'latin1');
export const BACKUP_FORMAT_VERSION = 1;
const PREFIX_BYTES = MAGIC.length + 4 + 4;
/** A header larger than this is corruption (a 1000-member list is ~100 KiB). */
const MAX_META_BYTES = 1024 * 1024;

/** What the header records about the cluster the backup was taken from. */
export interface BackupMeta {
  /** When graftctl started the backup (ISO 8601). */
  readonly createdAt: string;
  readonly clusterId: string;
  readonly leaderId: string;
  /** The leader's term and applied index just before the backup: the data holds at least every entry up to `index`. */
  readonly term: number;
  readonly index: number;
  readonly members: readonly MemberView[];
  /** The leader's graftd version when its /status reports one, else ''. */
  readonly graftdVersion: string;
}

/** The header bytes for `meta`. */
export function encodeBackupHeader(meta: BackupMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const out = Buffer.alloc(PREFIX_BYTES + json.length + 4);
  MAGIC.copy(out, 0);
  out.writeUInt32BE(BACKUP_FORMAT_VERSION, MAGIC.length);
  out.writeUInt32BE(json.length, MAGIC.length + 4);
  json.copy(out, PREFIX_BYTES);
  out.writeUInt32BE(crc32(json) >>> 0, PREFIX_BYTES + json.length);
  return out;
}

function corrupt(file: string, detail: string): GraftdError {
  return new GraftdError('GRAFTD_CORRUPT', `${file} is not a usable graftd backup: ${detail}`);
}

function checkMeta(file: string, value: unknown): BackupMeta {
  const o = value as Record<string, unknown> | null;
  const ok =
    o !== null &&
    typeof o === 'object' &&
    typeof o.createdAt === 'string' &&
    typeof o.clusterId === 'string' &&
    typeof o.leaderId === 'string' &&
    Number.isSafeInteger(o.term) &&
    Number.isSafeInteger(o.index) &&
    Array.isArray(o.members) &&
    o.members.every(
      (m: unknown) =>
        m !== null &&
        typeof m === 'object' &&
        typeof (m as MemberView).id === 'string' &&
        typeof (m as MemberView).raftAddr === 'string' &&
        typeof (m as MemberView).httpAddr === 'string' &&
        typeof (m as MemberView).voter === 'boolean',
    );
  if (!ok) throw corrupt(file, 'the metadata header does not have the expected fields');
  return { ...(o as unknown as BackupMeta), graftdVersion: typeof o.graftdVersion === 'string' ? o.graftdVersion : '' };
}

/** Where the data starts in a backup file, and its metadata (null for a bare kv snapshot). */
export interface BackupLayout {
  readonly meta: BackupMeta | null;
  /** Byte offset of the kv snapshot in the file. */
  readonly dataOffset: number;
}

/** Read and check the header of `file` (not the data). Throws GRAFTD_CORRUPT, or the fs error when it cannot be read. */
export async function readBackupLayout(file: string): Promise<BackupLayout> {
  const handle = await open(file, 'r');
  try {
    const prefix = Buffer.alloc(PREFIX_BYTES);
    const { bytesRead } = await handle.read(prefix, 0, PREFIX_BYTES, 0);
    if (bytesRead >= KV_MAGIC.length && prefix.subarray(0, KV_MAGIC.length).equals(KV_MAGIC)) return { meta: null, dataOffset: 0 };
    if (bytesRead < PREFIX_BYTES || !prefix.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw corrupt(file, 'it does not start with GRAFTDBK (graftctl backup) or GRAFTDKV (GET /snapshot)');
    }
    const version = prefix.readUInt32BE(MAGIC.length);
    if (version !== BACKUP_FORMAT_VERSION) {
      throw corrupt(file, `backup format version ${version}; this graftctl reads version ${BACKUP_FORMAT_VERSION}`);
    }
    const metaLen = prefix.readUInt32BE(MAGIC.length + 4);
    if (metaLen > MAX_META_BYTES) throw corrupt(file, `implausible metadata length ${metaLen}`);
    const rest = Buffer.alloc(metaLen + 4);
    const got = await handle.read(rest, 0, rest.length, PREFIX_BYTES);
    if (got.bytesRead < rest.length) throw corrupt(file, 'truncated in the metadata header');
    const json = rest.subarray(0, metaLen);
    const expected = rest.readUInt32BE(metaLen);
    if (expected !== crc32(json) >>> 0) throw corrupt(file, 'the metadata header checksum does not match');
    let parsed: unknown;
    try {
      parsed = JSON.parse(json.toString('utf8'));
    } catch {
      throw corrupt(file, 'the metadata header is not JSON');
    }
    return { meta: checkMeta(file, parsed), dataOffset: PREFIX_BYTES + metaLen + 4 };
  } finally {
    await handle.close();
  }
}

/** A fully verified backup. */
export interface VerifiedBackup extends BackupLayout {
  readonly store: KvStore;
  /** Size of the whole file. */
  readonly bytes: number;
  /** SHA-256 of the whole file (hex): identifies it, e.g. for an idempotent restore. */
  readonly sha256: string;
}

/**
 * Read and verify all of `file`: the header (if any), every record and the data's CRC-32
 * trailer. Throws GRAFTD_CORRUPT with the reason, or the fs error when it cannot be read.
 */
export async function verifyBackupFile(file: string): Promise<VerifiedBackup> {
  const layout = await readBackupLayout(file);
  const hash = createHash('sha256');
  let bytes = 0;
  const data = createReadStream(file, { start: layout.dataOffset });
  // The header bytes are part of the file's identity too.
  if (layout.dataOffset > 0) {
    const handle = await open(file, 'r');
    try {
      const header = Buffer.alloc(layout.dataOffset);
      await handle.read(header, 0, header.length, 0);
      hash.update(header);
      bytes += header.length;
    } finally {
      await handle.close();
    }
  }
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const chunk of data as AsyncIterable<Buffer>) {
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  let store: KvStore;
  try {
    // Loaded here, not at the top: the KV store pulls in msgpackr, which every graftctl start would pay for.
    const { restoreSnapshot } = await import('../kv/index.ts');
    store = await restoreSnapshot(counted());
  } catch (err) {
    data.destroy();
    if (err instanceof GraftdError && err.code === 'GRAFTD_CORRUPT') throw corrupt(file, err.message);
    throw err;
  }
  return { ...layout, store, bytes, sha256: hash.digest('hex') };
}
