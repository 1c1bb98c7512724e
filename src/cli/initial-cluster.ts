/**
 * `-initial-cluster`: founding a multi-node cluster on purpose, etcd style.
 *
 * Why: a node started without `-join` founds a one-node cluster (the original's walkthrough relies
 * on it), which is exactly how a second cluster gets made by accident. The production path names
 * every founder up front — `-initial-cluster n0=10.0.0.1:12000,n1=10.0.0.2:12000,n2=...` on every
 * founder — so each one bootstraps the same membership and the same cluster id (derived from the
 * list and `-initial-cluster-token`), and none of them can form a cluster alone: they elect a leader
 * once a majority of them runs. `-initial-cluster-state existing` says "this node was added to a
 * running cluster; never found one", and needs `-join` to reach it.
 */
import { createHash } from 'node:crypto';
import { parseHostPort } from '../transport/addr.ts';

export interface InitialMember {
  readonly id: string;
  readonly raftAddr: string;
  /** From -initial-cluster-http (required: a member's HTTP address is only learnt when it joins or founds). */
  readonly httpAddr: string;
}

export interface InitialCluster {
  readonly members: readonly InitialMember[];
  readonly clusterId: string;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
/** Founding clusters bigger than this is never what anybody means (Raft wants 3, 5 or 7 voters). */
export const MAX_INITIAL_MEMBERS = 9;

function pairs(flag: string, text: string, what: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0 || eq === item.length - 1) throw new Error(`${flag}: "${item}" is not ID=${what}`);
    const id = item.slice(0, eq);
    const addr = item.slice(eq + 1);
    if (!ID_PATTERN.test(id)) throw new Error(`${flag}: "${id}" is not a valid node id (letters, digits, . _ -; at most 63)`);
    if (out.has(id)) throw new Error(`${flag}: ${id} is listed twice`);
    try {
      parseHostPort(addr, `${what} of ${id}`);
    } catch (err) {
      throw new Error(`${flag}: ${(err as Error).message}`);
    }
    out.set(id, addr);
  }
  return out;
}

/**
 * Parse and check `-initial-cluster` (+ optional `-initial-cluster-http`, `-initial-cluster-token`)
 * for node `selfId` advertising `selfRaftAddr`. Throws an Error with one readable line.
 */
export function parseInitialCluster(o: {
  readonly list: string;
  readonly httpList?: string | undefined;
  readonly token?: string | undefined;
  readonly selfId: string;
  readonly selfRaftAddr: string;
  readonly selfHttpAddr: string;
}): InitialCluster {
  const raft = pairs('-initial-cluster', o.list, 'HOST:PORT (raft address)');
  if (raft.size === 0) throw new Error('-initial-cluster is empty: list every founder as ID=HOST:PORT (raft address), separated by commas');
  if (raft.size > MAX_INITIAL_MEMBERS) throw new Error(`-initial-cluster lists ${raft.size} founders; at most ${MAX_INITIAL_MEMBERS}`);
  const http = o.httpList === undefined || o.httpList.trim() === '' ? new Map<string, string>() : pairs('-initial-cluster-http', o.httpList, 'HOST:PORT (HTTP address)');
  for (const id of http.keys()) if (!raft.has(id)) throw new Error(`-initial-cluster-http names ${id}, which is not in -initial-cluster`);
  // Without them followers could not forward to a founder that leads, nor graftctl reach it.
  const noHttp = [...raft.keys()].filter((id) => !http.has(id));
  if (noHttp.length > 0) {
    throw new Error(
      `-initial-cluster-http must give the HTTP address (ID=HOST:PORT) of every founder; missing: ${noHttp.join(', ')}`,
    );
  }
  const own = raft.get(o.selfId);
  if (own === undefined) throw new Error(`-initial-cluster does not list this node (-id ${o.selfId}); founders are ${[...raft.keys()].join(', ')}`);
  if (own !== o.selfRaftAddr) {
    throw new Error(`-initial-cluster lists ${o.selfId} at ${own} but this node advertises its raft address as ${o.selfRaftAddr} (-raddr/-radv); they must be equal`);
  }
  if (http.get(o.selfId) !== o.selfHttpAddr) {
    throw new Error(
      `-initial-cluster-http lists ${o.selfId} at ${http.get(o.selfId)} but this node advertises its HTTP address as ${o.selfHttpAddr} (-haddr/-hadv); they must be equal`,
    );
  }
  const addrs = new Set<string>();
  for (const [id, addr] of raft) {
    if (addrs.has(addr)) throw new Error(`-initial-cluster: ${addr} is listed for two founders (${id} and another)`);
    addrs.add(addr);
  }
  const members = [...raft.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, raftAddr]) => ({ id, raftAddr, httpAddr: http.get(id) as string }));
  // Every founder derives the same id from the same list; a different token makes a different cluster.
  const canonical = `${o.token ?? ''}\n${members.map((m) => `${m.id}=${m.raftAddr}`).join(',')}`;
  const clusterId = createHash('sha256').update(canonical).digest('hex').slice(0, 16);
  return { members, clusterId };
}
