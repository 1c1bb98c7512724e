/**
 * One client of the CAS workload (`--workload cas`): plain reads (linearizable and lease), metadata
 * reads, plain writes and deletes, compare-and-set by value (ifValue, or ifAbsent when it last saw
 * the key absent) and by version (ifVersion), and single-key transactions (compare the value or
 * the version it last saw; success: get, put; failure: get), each to a random node, recorded for
 * the checker's CAS register (src/check/model.ts).
 *
 * Why conditions from what this client last saw: that is how real read-modify-write clients work,
 * and it makes contention real — several clients hold the same expectation, so exactly one may
 * win; a server that lets two win (or refuses with a `current` that satisfies the condition) is
 * caught. Every operation names one key, so the checker's per-key partitioning stays valid.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CasCondition, KeyTxn, Observed } from '../../src/check/cas-ops.ts';
import type { OpKind } from '../../src/check/history.ts';
import type { CasOutcome } from './cas-http.ts';
import { casPut, keyTxn, metaRead } from './cas-http.ts';
import type { NodeClients } from './http-ops.ts';
import type { Rng } from './prng.ts';
import type { RecordExtra, Recorder } from './recorder.ts';

/** Relative weights of the CAS workload's operations (`leaseRead` counts only with lease reads on). */
export interface CasMix {
  readonly read: number;
  readonly leaseRead: number;
  readonly metaRead: number;
  readonly write: number;
  readonly delete: number;
  readonly casValue: number;
  readonly casVersion: number;
  readonly txn: number;
}

export const DEFAULT_CAS_MIX: CasMix = { read: 2, leaseRead: 1, metaRead: 2, write: 1, delete: 0.3, casValue: 3, casVersion: 2, txn: 2 };

/** What one client loop needs. */
export interface CasClientDeps {
  readonly rec: Recorder;
  readonly clients: NodeClients;
  /** The node to send the next operation to. */
  readonly pickNode: (rng: Rng) => string;
  /** The key for the next operation (counted as used). */
  readonly pickKey: (rng: Rng) => string;
  readonly stopped: () => boolean;
  readonly mix: CasMix;
  readonly leaseReads: boolean;
  readonly thinkTimeMaxMs: number;
}

type Kind = keyof CasMix;

function pickKind(rng: Rng, mix: CasMix, leaseReads: boolean): Kind {
  const kinds = (Object.keys(mix) as Kind[]).filter((k) => k !== 'leaseRead' || leaseReads);
  const total = kinds.reduce((n, k) => n + mix[k], 0);
  let roll = rng.next() * total;
  for (const k of kinds) {
    roll -= mix[k];
    if (roll < 0) return k;
  }
  return kinds[kinds.length - 1]!;
}

/** Run one client until `stopped()`; `process` numbers its history events. */
export async function runCasClient(deps: CasClientDeps, process: number, rng: Rng): Promise<void> {
  // What this client last saw of each key (undefined: nothing yet; null: absent).
  const lastSeen = new Map<string, Observed | null>();
  let seq = 0;
  while (!deps.stopped()) {
    const key = deps.pickKey(rng);
    const node = deps.pickNode(rng);
    const kind = pickKind(rng, deps.mix, deps.leaseReads);
    const last = lastSeen.get(key);
    const value = `${process}-${seq++}`;
    const out = await perform(deps, process, node, key, kind, last, value, rng);
    if (out.seen !== undefined) lastSeen.set(key, out.seen);
    const ok = out.type === 'ok';
    const think = rng.int(ok ? 0 : 20, Math.max(ok ? 0 : 20, deps.thinkTimeMaxMs));
    if (think > 0) await sleep(think);
  }
}

/** Record, send, record; returns the outcome and what it taught about the key (undefined: nothing). */
async function perform(
  deps: CasClientDeps,
  process: number,
  node: string,
  key: string,
  kind: Kind,
  last: Observed | null | undefined,
  value: string,
  rng: Rng,
): Promise<{ type: CasOutcome['type']; seen?: Observed | null }> {
  const { rec, clients } = deps;
  const run = async (op: OpKind, inputValue: string | null, invokeExtra: RecordExtra, send: () => Promise<CasOutcome>) => {
    const tag = { node, ...invokeExtra };
    rec.record('invoke', process, op, key, inputValue, tag);
    const out = await send();
    const diag = { node, ...(out.error === undefined ? {} : { error: out.error }) };
    if (out.type !== 'ok') {
      rec.record(out.type, process, op, key, op === 'read' ? null : inputValue, diag);
      return out;
    }
    const result: RecordExtra =
      op === 'read'
        ? out.version === undefined
          ? {}
          : { version: out.version }
        : op === 'cas'
          ? out.succeeded
            ? { succeeded: true }
            : { succeeded: false, current: out.current ?? null }
          : op === 'txn'
            ? { succeeded: out.succeeded!, gets: out.gets ?? [] }
            : {};
    rec.record('ok', process, op, key, op === 'read' ? (out.value ?? null) : inputValue, { ...diag, ...result });
    return out;
  };

  switch (kind) {
    case 'read':
    case 'leaseRead': {
      const level = kind === 'leaseRead' ? ('lease' as const) : undefined;
      const out = await run('read', null, level === undefined ? {} : { level }, async () => {
        const r = await clients.perform(node, 'read', key, null, level);
        return { type: r.type, value: r.value, ...(r.error === undefined ? {} : { error: r.error }) };
      });
      if (out.type !== 'ok') return { type: out.type };
      // A plain read shows no version: keep the one last seen (a stale guess only makes an ifVersion fail).
      return { type: 'ok', seen: out.value === null || out.value === undefined ? null : { value: out.value, version: last?.version ?? 1 } };
    }
    case 'metaRead': {
      const level = rng.next() < 0.3 ? ('lease' as const) : undefined;
      const out = await run('read', null, level === undefined ? {} : { level }, () => metaRead(clients, node, key, level));
      return {
        type: out.type,
        ...(out.type === 'ok'
          ? { seen: out.value === null || out.value === undefined ? null : { value: out.value, version: out.version ?? 0 } }
          : {}),
      };
    }
    case 'write':
    case 'delete': {
      const op = kind;
      const out = await run(op, op === 'write' ? value : null, {}, async () => {
        const r = await clients.perform(node, op, key, op === 'write' ? value : null);
        return { type: r.type, ...(r.error === undefined ? {} : { error: r.error }) };
      });
      return { type: out.type, ...(out.type === 'ok' && op === 'delete' ? { seen: null } : {}) };
    }
    case 'casValue':
    case 'casVersion': {
      const cond: CasCondition =
        kind === 'casVersion'
          ? { ifVersion: last?.version ?? 0 }
          : last === undefined || last === null
            ? { ifAbsent: true }
            : { ifValue: last.value };
      const out = await run('cas', value, { cond }, () => casPut(clients, node, key, value, cond));
      if (out.type !== 'ok') return { type: out.type };
      // Won: the key now holds our value one version up (from what the condition pinned down, if it did).
      if (out.succeeded) {
        const before = cond.ifAbsent === true ? 0 : (cond.ifVersion ?? last?.version);
        return { type: 'ok', ...(before === undefined ? {} : { seen: { value, version: before + 1 } }) };
      }
      return { type: 'ok', seen: out.current ?? null };
    }
    case 'txn': {
      const byVersion = rng.next() < 0.5 || last === undefined || last === null;
      const txn: KeyTxn = {
        compare: [byVersion ? { target: 'version', op: '=', value: last?.version ?? 0 } : { target: 'value', op: '=', value: last!.value }],
        success: [{ get: true }, { put: value }],
        failure: [{ get: true }],
      };
      const out = await run('txn', null, { txn }, () => keyTxn(clients, node, key, txn));
      if (out.type !== 'ok') return { type: out.type };
      const before = out.gets?.[0] ?? null;
      return { type: 'ok', seen: out.succeeded ? { value, version: (before?.version ?? 0) + 1 } : before };
    }
  }
}
