/**
 * GRAFTD_TEST_FAULT=stale-compare: a deliberately broken transaction path for the chaos tests.
 *
 * Why it exists: the checker must prove it would catch the classic lost update — a server that
 * evaluates a compare-and-set against its own, possibly stale, state when the request arrives
 * instead of against the state the entry is applied to. With the fault on, the node decides the
 * branch here and proposes that branch unconditionally. Never set in production.
 */
import { type KvStore, encodeTxn } from '../kv/index.ts';
import { unpackCommand } from '../kv/command.ts';
import { decodeTxn } from '../kv/txn-command.ts';
import type { TxnRequest } from '../kv/types.ts';

/** The branch chosen on `store` as it is now, as a compare-free request. */
export function staleCompareTxn(store: KvStore, request: TxnRequest): { request: TxnRequest; succeeded: boolean } {
  const { compares } = decodeTxn(unpackCommand(encodeTxn({ compare: request.compare, success: [], failure: [] })));
  const succeeded = store.holds(compares);
  return { request: { compare: [], success: succeeded ? request.success : request.failure, failure: [] }, succeeded };
}
