/**
 * The work queue's commands and results, as they travel through the raft log.
 *
 * Why JSON and a strict decoder: the log stores opaque bytes, and every node must decode the same
 * bytes to the same command forever (a replayed log, a follower catching up years later). JSON is
 * readable in a log dump; the decoder accepts exactly the shapes below and is run before a command
 * is proposed, so a malformed command never reaches the log. apply() still treats an undecodable
 * entry as a deterministic "rejected" result instead of throwing (see docs/library.md).
 */

/** Longest payload, request id or claim id accepted (bytes of UTF-16 code units; keeps entries small). */
export const MAX_PAYLOAD_CHARS = 64 * 1024;
export const MAX_ID_CHARS = 128;

export type QueueCommand =
  /** Add `payload` at the tail. `requestId` makes a retried enqueue return the first one's item instead of adding a second. */
  | { readonly op: 'enqueue'; readonly requestId: string; readonly payload: string }
  /** Hand the oldest ready item to the claim `claimId` (a retry with the same id returns the same item). */
  | { readonly op: 'claim'; readonly claimId: string }
  /** The claimant finished item `id`: remove it. */
  | { readonly op: 'ack'; readonly id: number; readonly claimId: string }
  /** The claimant gives item `id` back: it goes to the tail of the ready list. */
  | { readonly op: 'release'; readonly id: number; readonly claimId: string };

export type QueueResult =
  | { readonly op: 'enqueue'; readonly id: number; readonly duplicate: boolean }
  | { readonly op: 'claim'; readonly item: { readonly id: number; readonly payload: string } | null; readonly duplicate: boolean }
  | { readonly op: 'ack' | 'release'; readonly outcome: 'done' | 'gone' | 'not-yours' }
  /** Only for a log entry that does not decode: every node skips it the same way. */
  | { readonly op: 'rejected'; readonly reason: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeCommand(cmd: QueueCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function encodeResult(result: QueueResult): Uint8Array {
  return encoder.encode(JSON.stringify(result));
}

export function decodeResult(data: Uint8Array): QueueResult {
  return JSON.parse(decoder.decode(data)) as QueueResult;
}

/** A command that cannot be decoded; `message` says why (safe to show a client). */
export class BadCommandError extends Error {}

/** Decode and validate a command. Throws BadCommandError on anything but the shapes of {@link QueueCommand}. */
export function decodeCommand(data: Uint8Array): QueueCommand {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch {
    throw new BadCommandError('the command is not UTF-8 JSON');
  }
  return validateCommand(value);
}

/** Check that `value` (parsed JSON) is a command. Throws BadCommandError naming the first problem. */
export function validateCommand(value: unknown): QueueCommand {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadCommandError('a command is a JSON object');
  const v = value as Record<string, unknown>;
  switch (v.op) {
    case 'enqueue':
      return { op: 'enqueue', requestId: idField(v, 'requestId'), payload: stringField(v, 'payload', MAX_PAYLOAD_CHARS, true) };
    case 'claim':
      return { op: 'claim', claimId: idField(v, 'claimId') };
    case 'ack':
    case 'release':
      return { op: v.op, id: itemId(v), claimId: idField(v, 'claimId') };
    default:
      throw new BadCommandError(`unknown op ${JSON.stringify(v.op)}; expected enqueue, claim, ack or release`);
  }
}

function stringField(v: Record<string, unknown>, name: string, max: number, emptyOk: boolean): string {
  const s = v[name];
  if (typeof s !== 'string') throw new BadCommandError(`${name} must be a string`);
  if (!emptyOk && s === '') throw new BadCommandError(`${name} must not be empty`);
  if (s.length > max) throw new BadCommandError(`${name} is longer than ${max} characters`);
  return s;
}

function idField(v: Record<string, unknown>, name: string): string {
  return stringField(v, name, MAX_ID_CHARS, false);
}

function itemId(v: Record<string, unknown>): number {
  const id = v.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) throw new BadCommandError('id must be a positive whole number');
  return id;
}
