/**
 * Lock workers for the chaos lock checker (issue 14): each takes one lock, writes to a fenced
 * register while holding it, releases, and again — recording every holder and every write for
 * lock-check.ts (locks.jsonl in the run directory).
 *
 * The recipe is etcd's mutex over graftd's HTTP API: a lease (kept alive every TTL/6), a txn that
 * creates `lock/<lease>` if absent (its createRevision is the fencing token), then wait until no
 * lock key with a lower createRevision remains (watch the next lower one for its delete, re-read).
 * The register is `register`, guarded by `fence` (the highest accepted token, zero-padded so string
 * order is number order): a write is the txn "fence < token + 1 → put fence = token, put
 * register", so only a write with a token ≥ every accepted one is accepted.
 *
 * Why each worker tracks its lease's deadline (the send time of its last acknowledged keepalive
 * plus the TTL) and stops acting as holder past it: the server may have expired the lease from
 * then on and let the next waiter in; a holder that went on writing would be the stale holder the
 * fence is there to stop, and its critical section would overlap the next one's.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GraftdClient } from '../../src/client/client.ts';
import type { Lock } from '../../src/client/recipes/lock.ts';
import type { AddonResult, RunAddon } from './addons.ts';
import type { Endpoint, JsonAnswer } from './http-json.ts';
import { describeAnswer, isFailed, isOk, jsonRequest } from './http-json.ts';
import type { FencedWrite, HolderRecord } from './lock-check.ts';
import { checkLocks } from './lock-check.ts';
import type { Rng } from './prng.ts';
import type { ChaosRun } from './run.ts';
import { schemeOf } from './security.ts';
import { openSse } from './sse-reader.ts';

export interface LockOptions {
  readonly workers: number;
  /** Requested lease TTL (s; the server raises it to its minimum). */
  readonly ttlS: number;
  /** Stop acting as holder this long before the lease deadline (ms). */
  readonly marginMs: number;
  /** Fenced writes per critical section, [min, max]. */
  readonly writesPerSection: readonly [number, number];
  readonly requestTimeoutMs: number;
  /** Members tried for a request that provably was not sent (connection refused or not established). */
  readonly sendAttempts: number;
  /** Keepalive period as a fraction of the TTL. */
  readonly keepAliveFraction: number;
  /** Keepalives of one lease in flight at most. */
  readonly maxKeepalivesInFlight: number;
  /** How long one wait for the predecessor's delete lasts before the lock keys are read again (ms). */
  readonly waitSliceMs: number;
  readonly prefix: string;
  /**
   * Chance that a holder "pauses" (like a GC pause or SIGSTOP of the client) right after deciding to
   * write: it stops renewing, sleeps past its lease, then sends the write anyway — the stale holder
   * the fence must stop once a newer holder has written.
   */
  readonly pauseChance: number;
  /** Extra sleep of such a pause beyond the TTL, [min, max] ms. */
  readonly pauseExtraMs: readonly [number, number];
  /**
   * `http`: the recipe inline over HTTP (the harness knows the lease deadline exactly);
   * `client`: `GraftdClient.lock` from src/client (GRAFTD_CHAOS_LOCK_RECIPE=client; no pauses: its keeper renews on its own).
   */
  readonly recipe: 'http' | 'client';
}

export const DEFAULT_LOCK: LockOptions = {
  workers: 4,
  ttlS: 3,
  marginMs: 100,
  writesPerSection: [1, 3],
  requestTimeoutMs: 3000,
  sendAttempts: 3,
  keepAliveFraction: 1 / 6,
  maxKeepalivesInFlight: 4,
  waitSliceMs: 1500,
  prefix: 'lock/',
  pauseChance: 0.25,
  pauseExtraMs: [1000, 4000],
  recipe: process.env.GRAFTD_CHAOS_LOCK_RECIPE === 'client' ? 'client' : 'http',
};

export const FENCE_KEY = 'fence';
export const REGISTER_KEY = 'register';
/** The fence value of `token`. */
export const pad = (token: number): string => String(token).padStart(15, '0');

/** The lock checker's part of a run. */
export class LockAddon implements RunAddon {
  readonly name = 'lock' as const;
  readonly #run: ChaosRun;
  readonly #opts: LockOptions;
  readonly #rng: Rng;
  readonly holders: HolderRecord[] = [];
  readonly writes: FencedWrite[] = [];
  readonly #file: string;
  #stopped = false;
  #loops: Promise<void>[] = [];
  #leases = 0;
  #abandoned = 0;
  #graftd: GraftdClient | undefined;

  constructor(run: ChaosRun, options: Partial<LockOptions> = {}) {
    this.#run = run;
    this.#opts = { ...DEFAULT_LOCK, ...options };
    this.#rng = run.rng.fork(12);
    this.#file = join(run.runDir, 'locks.jsonl');
    writeFileSync(this.#file, '');
  }

  #now(): number {
    return this.#run.recorder.now();
  }

  #endpoint(id: string): Endpoint {
    const c = this.#run.cluster;
    return { base: `${schemeOf(c.security)}://${c.spec(id).httpAddr}`, security: c.security };
  }

  /** A request to a random member; one that provably never left (refused, no connection) is tried on others (bounded). */
  async #send(rng: Rng, method: string, path: string, body?: unknown): Promise<JsonAnswer> {
    const members = rng.shuffle(this.#run.cluster.memberIds());
    let a: JsonAnswer = { kind: 'error', sent: false, error: 'no member' };
    for (const id of members.slice(0, this.#opts.sendAttempts)) {
      a = await jsonRequest(this.#endpoint(id), method, path, body, this.#opts.requestTimeoutMs);
      if (a.kind === 'answer' || a.sent) return a;
    }
    return a;
  }

  #log(entry: object): void {
    appendFileSync(this.#file, `${JSON.stringify(entry)}\n`);
  }

  start(): void {
    const init = this.#initFence(this.#rng.fork(99));
    for (let i = 0; i < this.#opts.workers; i++)
      this.#loops.push(init.then((ok) => (ok ? this.#worker(i + 1, this.#rng.fork(i)) : undefined)));
  }

  /** fence = pad(0) (a value compare on an absent key is false), retried until done. */
  async #initFence(rng: Rng): Promise<boolean> {
    while (!this.#stopped) {
      const a = await this.#send(rng, 'PUT', `/key/${FENCE_KEY}`, { value: pad(0), ifAbsent: true });
      if (a.kind === 'answer' && (a.status === 412 || isOk(a))) return true;
      await sleep(100);
    }
    return false;
  }

  async stopLoad(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
    this.#loops = [];
  }

  async settle(): Promise<void> {}

  async close(): Promise<void> {
    await this.stopLoad();
    await this.#graftd?.close();
    this.#graftd = undefined;
  }

  async #worker(worker: number, rng: Rng): Promise<void> {
    while (!this.#stopped) {
      if (this.#opts.recipe === 'client') await this.#clientRound(worker, rng);
      else await this.#round(worker, rng);
      await sleep(rng.int(0, 50));
    }
  }

  /** One lease: acquire, hold (fenced writes), release. */
  async #round(worker: number, rng: Rng): Promise<void> {
    const o = this.#opts;
    const t0 = this.#now();
    const grant = await this.#send(rng, 'POST', '/lease', { ttl: o.ttlS });
    if (!isOk(grant)) {
      await sleep(rng.int(20, 100));
      return; // an unknown grant expires by itself: nobody keeps it alive
    }
    const { id, ttl } = grant.body as { id: string; ttl: number };
    this.#leases++;
    const lease = { deadline: t0 + ttl * 1000, lost: false, done: false };
    // Keepalives go out on a fixed beat without waiting for each other (at most `maxKeepalivesInFlight`):
    // one hanging on a paused node must not starve the lease while others would get through.
    const inFlight = new Set<Promise<void>>();
    const keepalive = (async () => {
      while (!lease.done && !lease.lost) {
        await sleep(ttl * 1000 * o.keepAliveFraction);
        if (lease.done || inFlight.size >= o.maxKeepalivesInFlight) continue;
        const t = this.#now();
        const one: Promise<void> = this.#send(rng, 'POST', `/lease/${id}/keepalive`).then((a) => {
          inFlight.delete(one);
          if (a.kind === 'answer' && a.status === 404) lease.lost = true;
          else if (isOk(a)) lease.deadline = Math.max(lease.deadline, t + ((a.body as { ttl?: number }).ttl ?? ttl) * 1000);
        });
        inFlight.add(one);
      }
      await Promise.all(inFlight);
    })();
    const alive = (): boolean => !lease.lost && this.#now() < lease.deadline - o.marginMs;
    let end = 'release';
    try {
      const key = `${o.prefix}${id}`;
      const create = await this.#send(rng, 'POST', '/txn', {
        compare: [{ key, target: 'createRevision', op: '=', value: 0 }],
        success: [{ put: { key, value: `worker ${worker}`, lease: id } }],
        failure: [{ get: { key } }],
      });
      if (!isOk(create) || (create.body as { succeeded?: unknown }).succeeded !== true) {
        this.#abandoned++;
        this.#log({ abandoned: { worker, lease: id, why: `create: ${describeAnswer(create)}` } });
        return;
      }
      const token = (create.body as { revision: number }).revision;
      const acquiredAt = await this.#acquire(key, token, alive, rng);
      if (acquiredAt === undefined) {
        this.#abandoned++;
        this.#log({
          abandoned: {
            worker,
            lease: id,
            token,
            why: lease.lost
              ? 'lease gone (404 on keepalive)'
              : this.#stopped
                ? 'load stopped while waiting'
                : alive()
                  ? 'own key gone while waiting'
                  : 'lease deadline passed while waiting (no keepalive acknowledged in time)',
          },
        });
        return;
      }
      const n = rng.int(o.writesPerSection[0], o.writesPerSection[1]);
      const pauses = rng.next() < o.pauseChance;
      let endAt: number | undefined;
      for (let seq = 0; seq < n && !this.#stopped; seq++) {
        if (!alive()) {
          end = 'lease';
          break;
        }
        if (pauses && seq === n - 1) {
          // The section ends here (the holder's last moment of knowing it held the lock); the write comes late.
          endAt = Math.min(this.#now(), lease.deadline);
          end = 'paused';
          lease.done = true;
          await sleep(ttl * 1000 + rng.int(o.pauseExtraMs[0], o.pauseExtraMs[1]));
          await this.#fencedWrite(worker, token, seq, rng, true);
          break;
        }
        await this.#fencedWrite(worker, token, seq, rng);
        await sleep(rng.int(0, 30));
      }
      if (end === 'release' && !alive()) end = 'lease';
      const h: HolderRecord = {
        worker,
        lease: id,
        token,
        acquiredAt,
        endAt: endAt ?? Math.min(this.#now(), lease.deadline),
        endReason: end,
      };
      this.holders.push(h);
      this.#log({ holder: h });
    } finally {
      lease.done = true;
      await this.#send(rng, 'DELETE', `/lease/${id}`);
      await keepalive;
    }
  }

  /** One round with `GraftdClient.lock`: its fencing token, sections ended by release or by the lock's `lost`. */
  async #clientRound(worker: number, rng: Rng): Promise<void> {
    const o = this.#opts;
    const client = this.#client();
    let lock: Lock;
    try {
      lock = await client.lock(o.prefix.replace(/\/$/, ''), { ttl: o.ttlS, signal: AbortSignal.timeout(10_000) });
    } catch {
      this.#abandoned++;
      await sleep(rng.int(20, 100));
      return;
    }
    const acquiredAt = this.#now();
    this.#leases++;
    let lostAt = Number.POSITIVE_INFINITY;
    void lock.lost.then(() => {
      lostAt = Math.min(lostAt, this.#now());
    });
    const n = rng.int(o.writesPerSection[0], o.writesPerSection[1]);
    let end = 'release';
    for (let seq = 0; seq < n && !this.#stopped; seq++) {
      if (lock.isLost) {
        end = 'lease';
        break;
      }
      await this.#fencedWrite(worker, lock.fencingToken, seq, rng);
      await sleep(rng.int(0, 30));
    }
    const h: HolderRecord = {
      worker,
      lease: lock.lease,
      token: lock.fencingToken,
      acquiredAt,
      endAt: Math.min(this.#now(), lostAt),
      endReason: end,
    };
    this.holders.push(h);
    this.#log({ holder: h });
    await lock.release().catch(() => undefined);
  }

  /** The shared GraftdClient of the `client` recipe (every founding member as an endpoint). */
  #client(): GraftdClient {
    if (this.#graftd === undefined) {
      const c = this.#run.cluster;
      this.#graftd = new GraftdClient({
        endpoints: c.memberIds().map((id) => c.spec(id).httpAddr),
        timeoutMs: this.#opts.requestTimeoutMs,
        retries: 3,
      });
    }
    return this.#graftd;
  }

  /** Wait until no older lock key remains; the time of the read that showed it, or undefined if the lease ran out. */
  async #acquire(key: string, token: number, alive: () => boolean, rng: Rng): Promise<number | undefined> {
    const o = this.#opts;
    while (alive() && !this.#stopped) {
      const a = await this.#send(rng, 'GET', `/keys?prefix=${encodeURIComponent(o.prefix)}&keysOnly=true&limit=10000`);
      const at = this.#now();
      if (!isOk(a)) {
        await sleep(rng.int(20, 100));
        continue;
      }
      const { revision, kvs } = a.body as { revision: number; kvs: { key: string; createRevision: number }[] };
      if (!kvs.some((kv) => kv.key === key)) return undefined; // our key is gone: the lease expired
      const older = kvs.filter((kv) => kv.createRevision < token).sort((x, y) => y.createRevision - x.createRevision);
      if (older.length === 0) return alive() ? at : undefined;
      await this.#waitDeleted(older[0]!.key, revision + 1, rng);
    }
    return undefined;
  }

  /** Watch `key` from `from` until it is deleted or a slice of time passed. */
  async #waitDeleted(key: string, from: number, rng: Rng): Promise<void> {
    const members = this.#run.cluster.memberIds();
    const stream = openSse(
      this.#endpoint(rng.pick(members)),
      `/watch?key=${encodeURIComponent(key)}&fromRevision=${from}`,
      { connectTimeoutMs: 1000, idleTimeoutMs: 1000 },
      (e) => {
        if (e.event === 'message' && (JSON.parse(e.data) as { type?: string }).type === 'delete') stream.close();
      },
    );
    const timer = setTimeout(() => stream.close(), this.#opts.waitSliceMs);
    await stream.done;
    clearTimeout(timer);
  }

  async #fencedWrite(worker: number, token: number, seq: number, rng: Rng, late = false): Promise<void> {
    const call = this.#now();
    const a = await this.#send(rng, 'POST', '/txn', {
      compare: [{ key: FENCE_KEY, target: 'value', op: '<', value: pad(token + 1) }],
      success: [{ put: { key: FENCE_KEY, value: pad(token) } }, { put: { key: REGISTER_KEY, value: `w${worker}-t${token}-${seq}` } }],
      failure: [{ get: { key: FENCE_KEY } }],
    });
    const ret = this.#now();
    let w: FencedWrite;
    if (isOk(a)) {
      const b = a.body as { succeeded: boolean; revision: number; results: { kvs?: { value?: string }[] }[] };
      w = b.succeeded
        ? { worker, token, call, ret, outcome: 'accepted', revision: b.revision }
        : { worker, token, call, ret, outcome: 'rejected', revision: b.revision, fenceSeen: b.results[0]?.kvs?.[0]?.value ?? null };
    } else if (isFailed(a)) {
      w = { worker, token, call, ret, outcome: 'failed' };
    } else {
      w = { worker, token, call, ret: Number.POSITIVE_INFINITY, outcome: 'unknown' };
    }
    if (late) w = { ...w, late: true };
    this.writes.push(w);
    this.#log({ write: w, ...(isOk(a) ? {} : { answer: describeAnswer(a) }) });
  }

  check(): AddonResult {
    const res = checkLocks(this.holders, this.writes);
    const s = res.stats;
    return {
      name: 'lock',
      violations: res.violations,
      lines: [
        `recipe ${this.#opts.recipe}: ${this.#leases} leases, ${s.holders} critical sections (${s.leaseLost} ended by the lease deadline, ${s.paused} by a simulated pause), ${this.#abandoned} attempts abandoned`,
        `fenced writes: ${s.accepted} accepted, ${s.rejected} rejected as stale (${s.lateAccepted} of ${s.late} late writes after a pause accepted), ${s.failed} failed, ${s.unknown} unknown`,
      ],
    };
  }
}
