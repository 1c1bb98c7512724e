/**
 * The public surface of the consensus core.
 *
 * Why one entry point: the runtime, the simulator and the tests import from here, so the file
 * layout inside src/raft can change without touching them.
 */
export type * from './api.ts';
export type * from './types.ts';
export { createRaft } from './raft.ts';
export { MAX_TERM } from './admission.ts';
export { isReadRound } from './read-only.ts';
export type { ViolationReason } from './admission.ts';
export { MemoryStorage, EMPTY_CONF_STATE } from './memory-storage.ts';
export type { MemoryStorageOptions } from './memory-storage.ts';
export {
  bootstrap,
  bootstrapEntries,
  encodeConfChange,
  decodeConfChange,
  validateConfChange,
  applyConfChange,
  confChangeProblem,
} from './conf-change.ts';
export type { BootstrapMember } from './conf-change.ts';
