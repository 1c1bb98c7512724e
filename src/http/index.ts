/**
 * The client-facing HTTP API of graftd (fastify). See docs/api.md for the contract.
 *
 * Why an index: the command line (bin/graftd) and the tests import only this.
 */
export { createHttpServer } from './server.ts';
export type { HttpPlugin, HttpServerOptions } from './server.ts';
export { forwardedHeader } from './forward.ts';
export { defaultMaxBodyBytes, defaultMaxKeyBytes, defaultMaxValueBytes } from './body.ts';
