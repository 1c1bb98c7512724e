/**
 * The client library's public surface (graftctl, tests, benchmarks, chaos harness import from here).
 */
export { GraftdClient, type GraftdClientOptions, type GraftdClientStats } from './client.ts';
export type { GraftdClientAuth, GraftdClientTls } from './credentials.ts';
export { type ClientErrorCode, GraftdClientError } from './errors.ts';
export { DEFAULT_ENDPOINTS, normalizeEndpoint, parseEndpoint, parseEndpoints, type Scheme, schemeOf } from './endpoints.ts';
export { BackupFileError, backupToFile, checkBackupTarget } from './backup-file.ts';
export { type BackupMeta, encodeBackupHeader, readBackupLayout, verifyBackupFile, type VerifiedBackup } from './backup-format.ts';
export { ConditionFailedError, Coordination, type PutOptions, revisionHeader, type WriteConditions } from './coordination.ts';
export { WatchCompactedError, type WatchEvent, type WatchOptions, type WatchRevision } from './watch.ts';
export { type SseEvent, SseParser } from './sse.ts';
export type { Lock, LockOptions } from './recipes/lock.ts';
export type { CampaignOptions, ElectionLeader, Leadership } from './recipes/election.ts';
export type { RegisterOptions, Registration, ServiceInstance } from './recipes/registry.ts';
