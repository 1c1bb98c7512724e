/**
 * The acceptor's decision on a hello, as a pure function of the hello, the challenge nonce
 * and the node's settings.
 *
 * Why this order: the version is public anyway (it is in the challenge); then the dialler must
 * prove itself (secret, or the cluster id without one) before any check that could tell a
 * stranger something — which ids are members, which id this node has. A refusal never carries
 * the cluster id or this node's id, and with a secret only the generic AUTH_FAILED reason.
 */
import type { NodeId } from '../raft/types.ts';
import { type PeerTranscript, acceptorProof, checkDiallerProof } from '../security/peer-auth.ts';
import { type Hello, PROTOCOL_VERSION } from './codec.ts';
import { AUTH_FAILED } from './peer-guard.ts';

export interface HelloContext {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  readonly secret: Uint8Array | null;
  readonly isPeerAllowed: (id: NodeId) => boolean;
  /** Non-empty: a limit refuses this connection (checked after authentication). */
  readonly limitReason: (hello: Hello) => string;
}

/**
 * A hello from another cluster's node that was addressed to this node's id: that cluster lists us
 * as a member. With a secret only when the dialler proved it (so nobody can fake it); without one
 * the claim is as good as anything else on an unauthenticated port.
 */
export interface ForeignClusterClaim {
  readonly clusterId: string;
  readonly from: NodeId;
}

export type HelloVerdict =
  | { readonly ok: true; readonly proof: Uint8Array }
  /** `failure`: 'auth' = failed handshake (counted as such), 'refused' = authenticated but not admitted. `log` is the detailed reason for the local log only. */
  | {
      readonly ok: false;
      readonly failure: 'auth' | 'refused';
      readonly reason: string;
      readonly log: string;
      readonly foreign?: ForeignClusterClaim;
    };

export function checkHello(c: HelloContext, hello: Hello, acceptorNonce: Uint8Array): HelloVerdict {
  const auth = (reason: string, log = reason): HelloVerdict => ({ ok: false, failure: 'auth', reason, log });
  if (hello.version !== PROTOCOL_VERSION)
    return auth(`protocol version ${hello.version} is not supported (this node speaks ${PROTOCOL_VERSION})`);
  // The dialler's cluster id (empty from diallers of earlier builds that hid it behind a secret).
  const theirCluster = hello.clusterId === '' ? c.clusterId : hello.clusterId;
  const t: PeerTranscript = {
    version: hello.version,
    clusterId: theirCluster,
    acceptorNonce,
    diallerNonce: hello.nonce,
    from: hello.from,
    to: hello.to,
    purpose: hello.purpose,
    addr: hello.addr,
  };
  if (c.secret !== null) {
    if (hello.proof.length === 0) return auth(AUTH_FAILED, 'the peer sent no proof of the cluster secret (is it configured there?)');
    if (!checkDiallerProof(c.secret, t, hello.proof))
      return auth(AUTH_FAILED, 'the peer failed to prove knowledge of the cluster secret (wrong secret or cluster id)');
  } else if (hello.proof.length > 0) return auth(AUTH_FAILED, 'the peer uses a cluster secret and this node has none');
  if (theirCluster !== c.clusterId) {
    // Authenticated (or no secret), but of another cluster. Addressed to our id: it lists us as a member.
    const reason = 'cluster id mismatch';
    if (hello.to !== c.nodeId || hello.from === '' || hello.from === c.nodeId) return auth(reason);
    return { ok: false, failure: 'auth', reason, log: reason, foreign: { clusterId: theirCluster, from: hello.from } };
  }
  // Authenticated from here on: reasons may be specific, but still never name this node or its cluster.
  if (hello.to !== c.nodeId) return auth('node id mismatch: the peer expected to reach another node at this address');
  if (hello.from === '' || hello.from === c.nodeId)
    return auth(`the peer claims the id ${JSON.stringify(hello.from)}, which is empty or this node's own`);
  if (hello.purpose !== 'probe') {
    if (!c.isPeerAllowed(hello.from)) {
      const why = `unknown peer: ${JSON.stringify(hello.from)} is not a member known to this node`;
      return { ok: false, failure: 'refused', reason: why, log: why };
    }
    const limit = c.limitReason(hello);
    if (limit !== '') return { ok: false, failure: 'refused', reason: limit, log: limit };
  }
  return { ok: true, proof: c.secret === null ? EMPTY : acceptorProof(c.secret, t) };
}

const EMPTY = new Uint8Array(0);
