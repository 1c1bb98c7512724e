/**
 * Which file-system errors are transient, and the error the storage throws for them.
 *
 * Why: running out of file descriptors (EMFILE, ENFILE), kernel memory (ENOMEM) or a momentary
 * EAGAIN while *opening* a file says nothing about the data on disk: nothing was written, nothing
 * promised was lost, and the same open succeeds once the pressure is gone (e.g. a burst of client
 * connections closes). Treating it like a failed write (the permanent failed state) turned a
 * passing overload into a node that refuses writes until restarted. Only a failed write, fsync or
 * rename of data the node may have promised is permanent.
 *
 * A full disk (ENOSPC, EDQUOT) on a write of data nothing depends on yet — the zeros that
 * preallocate WAL space ahead of the records, a new segment, the temp file of an atomic
 * replacement — is the same kind of condition: nothing promised is touched, and the write succeeds
 * once an operator frees space. It gets its own error (StorageFullError, GRAFTD_DISK_FULL, 507) so
 * clients and operators can tell "out of space" from "busy".
 */
import { type ErrorCode, GraftdError } from '../errors.ts';
import type { FsLike } from './fs-like.ts';

/** errno codes that make an open() transient. */
export const TRANSIENT_OPEN_CODES: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'EAGAIN', 'ENOMEM']);

/**
 * A file could not be opened for a transient reason; nothing was changed, the store stays usable
 * and the same call may be retried (code GRAFTD_UNAVAILABLE, HTTP 503). `retryable` is always true.
 */
export class StorageBusyError extends GraftdError {
  readonly retryable = true;
  readonly errno: string;
  constructor(operation: string, errno: string, cause: unknown, kind?: { code: ErrorCode; status: number; message: string }) {
    const what = errno === 'EMFILE' || errno === 'ENFILE' ? 'too many open files' : errno === 'ENOMEM' ? 'out of memory' : 'resource busy';
    super(
      kind?.code ?? 'GRAFTD_UNAVAILABLE',
      kind?.message ?? `storage temporarily unavailable (${what}, ${errno}) during ${operation}; retrying`,
      kind?.status ?? 503,
      { cause },
    );
    this.name = 'StorageBusyError';
    this.errno = errno;
  }
}

/** errno codes of a full file system or an exhausted quota. */
export const DISK_FULL_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT']);

/** True for a raw fs error saying the file system (or the user's quota) is full. */
export function isDiskFullError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && DISK_FULL_CODES.has(code);
}

/**
 * No space for data nothing depends on yet (preallocation, a new segment, a temp file): nothing
 * was changed, the store stays usable, and the same call succeeds once space is freed (code
 * GRAFTD_DISK_FULL, HTTP 507 Insufficient Storage). A StorageBusyError, so every retry path for
 * busy storage retries it too. `path` is the file (or directory) that could not grow.
 */
export class StorageFullError extends StorageBusyError {
  readonly path: string;
  constructor(operation: string, path: string, errno: string, cause: unknown) {
    super(operation, errno, cause, {
      code: 'GRAFTD_DISK_FULL',
      status: 507,
      message: `disk full (${errno}) while ${operation} (${path}); writes are refused until space is freed, reads keep working`,
    });
    this.name = 'StorageFullError';
    this.path = path;
  }
}

/** True when `err` is a {@link StorageFullError}. */
export function isStorageFull(err: unknown): err is StorageFullError {
  return err instanceof StorageFullError;
}

/** True for an error thrown by open() that may succeed when retried. */
export function isTransientOpenError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && TRANSIENT_OPEN_CODES.has(code);
}

/** True when `err` is (or is caused by) a StorageBusyError: retry later instead of failing. */
export function isStorageBusy(err: unknown): err is StorageBusyError {
  return err instanceof StorageBusyError;
}

/** `fsl` with openSync throwing {@link StorageBusyError} for transient errors (every other call unchanged). */
export function withTransientOpens(fsl: FsLike): FsLike {
  const open = fsl.openSync.bind(fsl);
  return Object.assign(Object.create(fsl) as FsLike, {
    openSync(p: string, flags: string, mode?: number): number {
      try {
        return open(p, flags, mode);
      } catch (err) {
        if (isTransientOpenError(err)) {
          throw new StorageBusyError(`opening ${p}`, (err as NodeJS.ErrnoException).code as string, err);
        }
        throw err;
      }
    },
  });
}
