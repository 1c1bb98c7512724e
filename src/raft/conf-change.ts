/**
 * Single-server membership changes: encoding in log entries, validation, application, bootstrap.
 *
 * Why single-server: adding or removing one member at a time keeps every old and new majority
 * overlapping, so no joint consensus is needed as long as only one change is in flight (the leader
 * enforces that with pendingConfIndex). Changes take effect when applied, so the membership always
 * matches the applied index (what a local snapshot records).
 */
import { InvalidConfChangeError, assert } from '../errors.ts';
import type { ConfChange, ConfChangeType, ConfState, Entry, NodeId, Storage } from './types.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CHANGE_TYPES: ReadonlySet<string> = new Set<ConfChangeType>(['addVoter', 'addLearner', 'promoteLearner', 'removeNode']);

/** Encode a change as the data of a `conf` entry (JSON: small, rare, easy to inspect). */
export function encodeConfChange(change: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify({ type: change.type, nodeId: change.nodeId, context: change.context }));
}

/** Decode the data of a `conf` entry. Throws InvalidConfChangeError on malformed data. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new InvalidConfChangeError(`conf entry data is not JSON: ${(err as Error).message}`);
  }
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || typeof o.type !== 'string' || !CHANGE_TYPES.has(o.type) || typeof o.nodeId !== 'string') {
    throw new InvalidConfChangeError(`conf entry data is not a ConfChange: ${decoder.decode(data).slice(0, 200)}`);
  }
  return { type: o.type as ConfChangeType, nodeId: o.nodeId, context: typeof o.context === 'string' ? o.context : '' };
}

/** Why `change` cannot be applied to `cs`, or '' when it can. */
export function confChangeProblem(cs: ConfState, change: ConfChange): string {
  const id = change.nodeId;
  if (id === '') return 'the node id is empty';
  const isVoter = cs.voters.includes(id);
  const isLearner = cs.learners.includes(id);
  switch (change.type) {
    case 'addVoter':
    case 'addLearner':
      if (isVoter) return `${id} is already a voter`;
      if (isLearner) return `${id} is already a learner${change.type === 'addVoter' ? ' (use promoteLearner)' : ''}`;
      return '';
    case 'promoteLearner':
      if (isVoter) return `${id} is already a voter`;
      if (!isLearner) return `${id} is not a learner`;
      return '';
    case 'removeNode':
      if (!isVoter && !isLearner) return `${id} is not a member`;
      if (isVoter && cs.voters.length === 1) return `${id} is the last voter`;
      return '';
    default:
      return `unknown change type ${String((change as { type: unknown }).type)}`;
  }
}

/** Throw InvalidConfChangeError unless `change` is valid against `cs`. */
export function validateConfChange(cs: ConfState, change: ConfChange): void {
  const problem = confChangeProblem(cs, change);
  if (problem !== '') throw new InvalidConfChangeError(`invalid membership change ${change.type} ${change.nodeId}: ${problem}`);
}

/** The membership after applying a valid `change` to `cs` (a new object; `cs` is not modified). */
export function applyConfChange(cs: ConfState, change: ConfChange): ConfState {
  assert(confChangeProblem(cs, change) === '', `applyConfChange: ${confChangeProblem(cs, change)}`);
  const id = change.nodeId;
  const context: Record<NodeId, string> = { ...cs.context };
  switch (change.type) {
    case 'addVoter':
      context[id] = change.context;
      return { voters: [...cs.voters, id], learners: cs.learners, context };
    case 'addLearner':
      context[id] = change.context;
      return { voters: cs.voters, learners: [...cs.learners, id], context };
    case 'promoteLearner':
      context[id] = change.context === '' ? (cs.context[id] ?? '') : change.context;
      return { voters: [...cs.voters, id], learners: cs.learners.filter((x) => x !== id), context };
    case 'removeNode':
      delete context[id];
      return { voters: cs.voters.filter((x) => x !== id), learners: cs.learners.filter((x) => x !== id), context };
  }
}

/** One member of a cluster being bootstrapped. */
export interface BootstrapMember {
  readonly id: NodeId;
  /** Stored in ConfState.context (graftd: JSON with the member's addresses). */
  readonly context?: string;
}

/**
 * The entries that describe an initial cluster: one committed `addVoter` conf entry per member at
 * indices 1..n, term 1. Every founding member must start with the same entries (a joining node starts
 * empty and receives them from the leader, which is why membership lives in the log and not only in an
 * index-0 snapshot).
 */
export function bootstrapEntries(members: readonly (NodeId | BootstrapMember)[]): Entry[] {
  assert(members.length > 0, 'bootstrap: at least one member is required');
  return members.map((m, i) => {
    const member = typeof m === 'string' ? { id: m } : m;
    return {
      index: i + 1,
      term: 1,
      type: 'conf' as const,
      // `bootstrap` = the founding membership's size: a node replaying these entries one by one (a
      // founder that lost its disk and rejoins under its id) must not act on a partial founding
      // membership, e.g. {itself} alone after entry 1 (see bootstrapSize).
      data: encoder.encode(
        JSON.stringify({ type: 'addVoter', nodeId: member.id, context: member.context ?? '', bootstrap: members.length }),
      ),
    };
  });
}

/** The founding membership size recorded in a bootstrap conf entry's data, or 0 for any other conf entry. */
export function bootstrapSize(data: Uint8Array): number {
  try {
    const v = JSON.parse(decoder.decode(data)) as { bootstrap?: unknown } | null;
    return typeof v?.bootstrap === 'number' && Number.isInteger(v.bootstrap) && v.bootstrap > 0 ? v.bootstrap : 0;
  } catch {
    return 0;
  }
}

/**
 * Write the initial cluster into an empty storage: the {@link bootstrapEntries} plus hard state
 * {term 1, commit n}. The core applies the conf entries in its first Ready, after which the members
 * are voters and campaign.
 */
export function bootstrap(storage: Storage, members: readonly (NodeId | BootstrapMember)[]): void {
  assert(storage.lastIndex() === 0, `bootstrap: the storage must be empty, but its last index is ${storage.lastIndex()}`);
  const entries = bootstrapEntries(members);
  storage.save({ term: 1, vote: '', commit: entries.length }, entries);
}
