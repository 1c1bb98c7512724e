/**
 * `graftd`: the typed client of a graftd cluster (what graftctl uses).
 *
 *   import { GraftdClient } from 'graftd';
 *   const client = new GraftdClient({ endpoints: ['127.0.0.1:11000', '127.0.0.1:11001'] });
 *
 * Why a file of its own: the package's main entry stays small (the client only: no server, no
 * raft) and its list of exports is the client's (src/client/index.ts).
 */
export * from './client/index.ts';
export { VERSION } from './version.ts';
