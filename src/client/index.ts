/**
 * The client library's public surface (graftctl, tests, benchmarks, chaos harness import from here).
 */
export { GraftdClient, type GraftdClientOptions } from './client.ts';
export { type ClientErrorCode, GraftdClientError } from './errors.ts';
export { DEFAULT_ENDPOINTS, normalizeEndpoint, parseEndpoints } from './endpoints.ts';
export { backupToFile } from './backup-file.ts';
