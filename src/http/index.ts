/**
 * The client-facing HTTP API of graftd (fastify). See docs/api.md for the contract.
 *
 * Why an index: the command line (bin/graftd) and the tests import only this.
 */
export { connectionCounts, createHttpServer } from './server.ts';
export type { HttpPlugin, HttpPluginContext, HttpServerOptions } from './server.ts';
export { HttpGuard, requiredAccess } from './guard.ts';
export { HttpSecurity } from '../security/http-security.ts';
export type { HttpSecurityConfig, HttpTlsFiles } from '../security/http-security.ts';
export { forwardedHeader } from './leader-relay.ts';
export { defaultMaxBodyBytes, defaultMaxKeyBytes, defaultMaxValueBytes } from './body.ts';
