/**
 * The one place this example imports graftd from.
 *
 * Why a shim: an application installs the package and writes `from 'graftd/raft'`; inside this
 * repository the example runs from the sources (no build needed), so the import is relative here.
 */
export { GraftdError } from '../../src/errors.ts';
export type { PreparedRestore, RaftNode, RaftNodeOptions, StateMachine } from '../../src/node/state-machine.ts';
