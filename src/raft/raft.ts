/**
 * The Raft state machine (skeleton: replaced by the full implementation shortly).
 */
import { GraftdError } from '../errors.ts';
import type { CreateRaft } from './api.ts';

/** Create a consensus core over `storage`. */
export const createRaft: CreateRaft = () => {
  throw new GraftdError('GRAFTD_INTERNAL', 'createRaft: not implemented yet');
};
