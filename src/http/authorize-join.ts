/**
 * Who may add a member (POST /join).
 *
 * Why its own rule: /join is the takeover path — a join with an existing voter's id (or
 * `fresh: true`) replaces that voter, and the new member is promoted automatically, so repeating
 * it hands the caller the majority. Allowed: an authenticated admin (including replacing a
 * voter), or a joining node that proves the cluster secret (a proof binding every join field,
 * src/security/join-proof.ts); the node is then told to verify the joiner (`verifyPeer`). With
 * neither an auth file nor a cluster secret configured, /join stays open as before.
 */
import type { FastifyRequest } from 'fastify';
import { verifyJoinProof } from '../security/join-proof.ts';
import { isImplicitAdmin } from '../security/http-security.ts';
import type { ParsedJoin } from './body.ts';
import type { HttpContext } from './context.ts';
import { errorReply } from './error-reply.ts';
import type { ErrorReply } from './error-reply.ts';
import { principalOf } from './guard.ts';

export type JoinVerdict =
  | { readonly refused: ErrorReply; readonly verifyPeer?: never }
  | { readonly refused?: never; readonly verifyPeer: boolean };

/** Decide whether `request` may perform `parsed` (see the module comment). */
export function authorizeJoin(ctx: HttpContext, request: FastifyRequest, parsed: ParsedJoin, nowMs: number = Date.now()): JoinVerdict {
  const principal = principalOf(request);
  const secret = ctx.security?.clusterSecret();
  const explicitAdmin = principal !== undefined && principal.role === 'admin' && !isImplicitAdmin(principal);
  if (explicitAdmin) return { verifyPeer: false };
  // Nothing configured to check against: open, as before issue 10.
  if (principal !== undefined && isImplicitAdmin(principal) && secret === undefined) return { verifyPeer: false };
  if (secret !== undefined && parsed.proof !== undefined) {
    const replay = ctx.security?.joinReplay;
    const ok = replay === undefined ? 'no replay cache' : verifyJoinProof(secret, parsed.join, parsed.proof, nowMs, replay);
    if (ok === true) return { verifyPeer: true };
    return { refused: errorReply('GRAFTD_FORBIDDEN', `join of ${JSON.stringify(parsed.join.id)} refused: ${ok}`) };
  }
  if (principal === undefined) {
    return {
      refused: errorReply(
        'GRAFTD_UNAUTHORIZED',
        'joining needs admin credentials or a join proof made with the cluster secret (graftd -join sends one)',
      ),
    };
  }
  const who = isImplicitAdmin(principal)
    ? 'an anonymous caller'
    : `${principal.kind} ${JSON.stringify(principal.name)} (role ${principal.role})`;
  return {
    refused: errorReply(
      'GRAFTD_FORBIDDEN',
      `${who} may not change the membership: joining needs the admin role or a join proof made with the cluster secret`,
    ),
  };
}
