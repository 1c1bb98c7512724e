/**
 * Which file-system errors are transient, and the error the storage throws for them.
 *
 * Why: running out of file descriptors (EMFILE, ENFILE), kernel memory (ENOMEM) or a momentary
 * EAGAIN while *opening* a file says nothing about the data on disk: nothing was written, nothing
 * promised was lost, and the same open succeeds once the pressure is gone (e.g. a burst of client
 * connections closes). Treating it like a failed write (the permanent failed state) turned a
 * passing overload into a node that refuses writes until restarted. Only a failed write, fsync or
 * rename of data the node may have promised is permanent. ENOSPC stays permanent here: a full
 * disk does not clear by itself and is handled as its own case.
 */
import { GraftdError } from '../errors.ts';
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
  constructor(operation: string, errno: string, cause: unknown) {
    const what = errno === 'EMFILE' || errno === 'ENFILE' ? 'too many open files' : errno === 'ENOMEM' ? 'out of memory' : 'resource busy';
    super('GRAFTD_UNAVAILABLE', `storage temporarily unavailable (${what}, ${errno}) during ${operation}; retrying`, 503, { cause });
    this.name = 'StorageBusyError';
    this.errno = errno;
  }
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
