/**
 * The lab's wire contract: what the page may ask for, what the supervisor answers, and how a node
 * learns that lab mode is on.
 *
 * Why a separate contract: three parties speak it — the page (through its node), the node's
 * proxy routes (plugin, lab-proxy.ts) and the supervisor that owns the processes (lab-server.ts,
 * run by `npm start -- --lab`). Validation lives here once, so the proxy refuses malformed
 * requests before they reach the process that can kill nodes.
 */
import { GraftdError } from '../errors.ts';

/** Environment of a node started by `npm start -- --lab`: where its supervisor listens, and the shared secret. */
export const LAB_URL_ENV = 'GRAFTD_VIZOR_LAB_URL';
export const LAB_TOKEN_ENV = 'GRAFTD_VIZOR_LAB_TOKEN';
/** Request header carrying the token from a node to the supervisor. */
export const LAB_TOKEN_HEADER = 'x-graftd-lab-token';

/** Per-node faults and repairs. */
export const NODE_ACTIONS = ['stop', 'resume', 'kill', 'restart', 'timeout', 'isolate', 'heal', 'slow'] as const;
export type NodeAction = (typeof NODE_ACTIONS)[number];
/** Cluster-wide: client load (writes per second, 0 = off). */
export type ClusterAction = 'load';

export type LabRequest =
  | { readonly action: NodeAction; readonly node: string; readonly loss?: number }
  | { readonly action: ClusterAction; readonly rate: number };

/** Highest client load the lab generates (writes per second). */
export const MAX_LOAD_RATE = 500;
/** Default packet loss of a slow link. */
export const DEFAULT_SLOW_LOSS = 0.3;

export type ProcessState = 'running' | 'stopped' | 'dead' | 'starting';
export type NetState = 'ok' | 'isolated' | 'slow';

export interface LabNodeState {
  readonly id: string;
  readonly httpAddr: string;
  readonly raftAddr: string;
  readonly process: ProcessState;
  readonly net: NetState;
  /** Packet loss of a slow link (0 when not slow). */
  readonly loss: number;
}

/** One entry of the lab's action log (newest last). */
export interface LabLogEntry {
  /** Supervisor clock (vizorNow) when the action was taken. */
  readonly t: number;
  readonly action: string;
  readonly node: string;
  readonly ok: boolean;
  readonly message: string;
}

export interface LoadState {
  readonly rate: number;
  readonly ok: number;
  readonly failed: number;
  readonly inFlight: number;
  readonly lastError: string;
}

/** GET /ui/lab/state. */
export interface LabState {
  readonly lab: true;
  readonly electionTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly nodes: readonly LabNodeState[];
  /** Whether isolate / slow can run here; `reason` says why not ("needs root and iptables"). */
  readonly network: { readonly available: boolean; readonly reason: string };
  readonly load: LoadState;
  readonly log: readonly LabLogEntry[];
}

/** POST /ui/lab/action answer. */
export interface LabResult {
  /** False when the action had nothing to do (e.g. resume a running node). */
  readonly changed: boolean;
  readonly message: string;
  readonly state: LabState;
}

function bad(message: string): GraftdError {
  return new GraftdError('GRAFTD_INVALID_BODY', message);
}

/** Validate an action body (throws GRAFTD_INVALID_BODY naming the problem). */
export function parseLabRequest(body: unknown): LabRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the lab action must be a JSON object');
  const o = body as Record<string, unknown>;
  const action = o.action;
  if (action === 'load') {
    const rate = o.rate;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 0 || rate > MAX_LOAD_RATE)
      throw bad(`rate must be an integer from 0 to ${MAX_LOAD_RATE} writes per second`);
    return { action, rate };
  }
  if (typeof action !== 'string' || !(NODE_ACTIONS as readonly string[]).includes(action))
    throw bad(`action must be one of ${[...NODE_ACTIONS, 'load'].join(', ')}`);
  const node = o.node;
  if (typeof node !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(node)) throw bad('node must be a node id');
  if (o.loss !== undefined) {
    if (action !== 'slow') throw bad('loss applies to slow only');
    if (typeof o.loss !== 'number' || !(o.loss > 0 && o.loss < 1)) throw bad('loss must be a fraction in (0, 1)');
    return { action, node, loss: o.loss };
  }
  return { action: action as NodeAction, node };
}

/** True for http://127.x.x.x:port or http://[::1]:port (the supervisor must be on this machine). */
export function isLoopbackUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol !== 'http:' || u.port === '' || u.pathname !== '/' || u.search !== '' || u.username !== '') return false;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(u.hostname) || u.hostname === '[::1]';
}

/** True for a loopback peer address as a socket reports it. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\./.test(a);
}
