/**
 * `graftctl endpoint health|status`: every endpoint probed on its own, in parallel, each with a
 * short timeout (like `etcdctl endpoint health/status`).
 *
 * Why separate from `status`: `status` shows the cluster as its members see each other (it
 * needs a member to answer first); these commands answer "which of the addresses I was given
 * work right now" in about one probe timeout, however many of them hang, and exit 1 if any does
 * not — what a script or a health check wants.
 */
import type { Command } from 'commander';
import type { GraftdClient } from '../client/index.ts';
import type { NodeStatus } from '../node/api.ts';
import { CommandFailure, formatTable, type GraftctlIo, oneLine, printJson } from './graftctl-output.ts';

/** One endpoint's /readyz verdict. */
export interface EndpointHealth {
  readonly endpoint: string;
  readonly health: boolean;
  /** Milliseconds until the answer (or the failure). */
  readonly took: number;
  /** Why it is unhealthy; '' when healthy. */
  readonly error: string;
}

/** One endpoint's /status, summarised. */
export interface EndpointStatus {
  readonly endpoint: string;
  readonly id: string | null;
  readonly version: string | null;
  readonly clusterId: string | null;
  readonly role: string | null;
  readonly leaderId: string | null;
  readonly isLeader: boolean;
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  readonly keys: number | null;
  /** Bytes of the data directory, when /status reports it. */
  readonly dataBytes: number | null;
  readonly took: number;
  readonly error: string;
}

function numberField(status: Record<string, unknown>, ...names: string[]): number | null {
  for (const name of names) if (typeof status[name] === 'number') return status[name] as number;
  return null;
}

function stringField(status: Record<string, unknown>, name: string): string | null {
  return typeof status[name] === 'string' ? (status[name] as string) : null;
}

function errorText(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}

/** Probe /readyz on every endpoint in parallel (the client's probe timeout bounds each). */
export async function endpointHealth(client: GraftdClient, endpoints: readonly string[], timeoutMs: number): Promise<EndpointHealth[]> {
  return Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointHealth> => {
      const started = Date.now();
      try {
        const answer = await client.probeEndpoint(endpoint, '/readyz', timeoutMs);
        const took = Date.now() - started;
        if (answer.status === 200) return { endpoint, health: true, took, error: '' };
        let error = `HTTP ${answer.status}`;
        try {
          const body = JSON.parse(answer.text) as { error?: unknown };
          if (typeof body.error === 'string') error = body.error;
        } catch {
          // not JSON: keep the status
        }
        return { endpoint, health: false, took, error: oneLine(error) };
      } catch (err) {
        return { endpoint, health: false, took: Date.now() - started, error: errorText(err) };
      }
    }),
  );
}

/** GET /status on every endpoint in parallel, each within `timeoutMs`. */
export async function endpointStatus(client: GraftdClient, endpoints: readonly string[], timeoutMs: number): Promise<EndpointStatus[]> {
  return Promise.all(
    endpoints.map(async (endpoint): Promise<EndpointStatus> => {
      const started = Date.now();
      const empty = {
        endpoint,
        id: null,
        version: null,
        clusterId: null,
        role: null,
        leaderId: null,
        isLeader: false,
        term: null,
        commitIndex: null,
        appliedIndex: null,
        keys: null,
        dataBytes: null,
      };
      try {
        const answer = await client.probeEndpoint(endpoint, '/status', timeoutMs);
        const took = Date.now() - started;
        if (answer.status !== 200) return { ...empty, took, error: `HTTP ${answer.status}: ${oneLine(answer.text.slice(0, 120))}` };
        const s = JSON.parse(answer.text) as NodeStatus & Record<string, unknown>;
        return {
          endpoint,
          id: stringField(s, 'id'),
          version: stringField(s, 'version'),
          clusterId: stringField(s, 'clusterId'),
          role: stringField(s, 'role'),
          leaderId: stringField(s, 'leaderId'),
          isLeader: s.role === 'leader',
          term: numberField(s, 'term'),
          commitIndex: numberField(s, 'commitIndex'),
          appliedIndex: numberField(s, 'appliedIndex'),
          keys: numberField(s, 'keys'),
          dataBytes: numberField(s, 'dataDirBytes', 'dataBytes', 'dbSize'),
          took,
          error: '',
        };
      } catch (err) {
        return { ...empty, took: Date.now() - started, error: errorText(err) };
      }
    }),
  );
}

/**
 * What answering nodes disagree on: more than one cluster id, or more than one leader named
 * (nodes that know no leader are not counted). '' when they agree.
 */
export function disagreement(rows: readonly { id: string | null; clusterId: string | null; leaderId: string | null }[]): string {
  const group = (pick: (r: (typeof rows)[number]) => string | null): Map<string, string[]> => {
    const out = new Map<string, string[]>();
    for (const r of rows) {
      const value = pick(r);
      if (value === null || value === '' || r.id === null) continue;
      out.set(value, [...(out.get(value) ?? []), r.id]);
    }
    return out;
  };
  const describe = (m: Map<string, string[]>, what: string): string =>
    [...m.entries()].map(([value, ids]) => `${ids.join(', ')} ${ids.length === 1 ? 'reports' : 'report'} ${what} ${value}`).join('; ');
  const problems: string[] = [];
  const clusters = group((r) => r.clusterId);
  if (clusters.size > 1) problems.push(`the endpoints disagree on the cluster id: ${describe(clusters, 'cluster')}`);
  const leaders = group((r) => r.leaderId);
  if (leaders.size > 1) problems.push(`the endpoints disagree on the leader: ${describe(leaders, 'leader')}`);
  return problems.join('; ');
}

function human(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** What the endpoint commands need from graftctl-main. */
export interface EndpointContext {
  readonly io: GraftctlIo;
  readonly json: () => boolean;
  readonly client: () => Promise<GraftdClient>;
  /** The endpoints given (--endpoints / $GRAFTD_ENDPOINTS), normalised. */
  readonly endpoints: () => string[];
  /** The per-endpoint timeout (--probe-timeout; 0 means the request timeout). */
  readonly probeTimeoutMs: () => number;
}

/** Register `endpoint health` and `endpoint status` on `program`. */
export function registerEndpointCommands(program: Command, ctx: EndpointContext): void {
  const endpoint = program
    .command('endpoint')
    .description("check each endpoint on its own, in parallel (like 'etcdctl endpoint health|status')");

  const targets = async (cluster: boolean): Promise<string[]> => {
    const given = ctx.endpoints();
    if (!cluster) return given;
    // --cluster: every member's HTTP address, as the cluster reports it, plus the endpoints given.
    const client = await ctx.client();
    const members = await client.memberEndpoints();
    return [...new Set([...given, ...members])];
  };

  endpoint
    .command('health')
    .description('GET /readyz on every endpoint in parallel (healthy: the node answers, knows a leader and has applied what is committed)')
    .option('--cluster', "also every member's address as the cluster reports it", false)
    .addHelpText(
      'after',
      '\nEach endpoint gets --probe-timeout (default 1000 ms). Exits 1 when any endpoint is unhealthy.\n\nExample:\n  $ graftctl --endpoints 10.0.0.1:11000,10.0.0.2:11000 endpoint health\n',
    )
    .action(async (options: { cluster: boolean }) => {
      const client = await ctx.client();
      const rows = await endpointHealth(client, await targets(options.cluster), ctx.probeTimeoutMs());
      if (ctx.json()) printJson(ctx.io, rows);
      else {
        const anyError = rows.some((r) => !r.health);
        ctx.io.stdout(
          formatTable(
            ['ENDPOINT', 'HEALTH', 'TOOK', ...(anyError ? ['ERROR'] : [])],
            rows.map((r) => [r.endpoint, r.health ? 'healthy' : 'unhealthy', `${r.took}ms`, ...(anyError ? [r.error] : [])]),
          ),
        );
      }
      const bad = rows.filter((r) => !r.health);
      if (bad.length > 0) {
        throw new CommandFailure(
          `${bad.length} of ${rows.length} endpoints unhealthy: ${bad.map((r) => r.endpoint).join(', ')}`,
          'GRAFTCTL_UNHEALTHY',
          1,
          true,
        );
      }
    });

  endpoint
    .command('status')
    .description("each endpoint's own /status in parallel: id, version, leader, term, raft indexes, keys, data size")
    .option('--cluster', "also every member's address as the cluster reports it", false)
    .addHelpText(
      'after',
      '\nEach endpoint gets --probe-timeout (default 1000 ms). Exits 1 when an endpoint does not answer, or the\nendpoints disagree on the cluster id or the leader.\n\nExample:\n  $ graftctl endpoint status --json\n',
    )
    .action(async (options: { cluster: boolean }) => {
      const client = await ctx.client();
      const rows = await endpointStatus(client, await targets(options.cluster), ctx.probeTimeoutMs());
      const conflict = disagreement(rows);
      if (ctx.json()) printJson(ctx.io, conflict === '' ? rows : { endpoints: rows, error: conflict, code: 'GRAFTCTL_DISAGREEMENT' });
      else {
        const anyError = rows.some((r) => r.error !== '');
        const dash = (v: string | number | null): string => (v === null || v === '' ? '-' : String(v));
        ctx.io.stdout(
          formatTable(
            [
              'ENDPOINT',
              'ID',
              'VERSION',
              'CLUSTER',
              'ROLE',
              'LEADER',
              'TERM',
              'COMMIT',
              'APPLIED',
              'KEYS',
              'DATA SIZE',
              ...(anyError ? ['ERROR'] : []),
            ],
            rows.map((r) => [
              r.endpoint,
              dash(r.id),
              dash(r.version),
              dash(r.clusterId),
              r.role ?? 'unreachable',
              dash(r.leaderId),
              dash(r.term),
              dash(r.commitIndex),
              dash(r.appliedIndex),
              dash(r.keys),
              human(r.dataBytes),
              ...(anyError ? [r.error] : []),
            ]),
          ),
        );
      }
      const bad = rows.filter((r) => r.error !== '');
      const problems = [
        ...(bad.length > 0 ? [`${bad.length} of ${rows.length} endpoints did not answer: ${bad.map((r) => r.endpoint).join(', ')}`] : []),
        ...(conflict === '' ? [] : [conflict]),
      ];
      if (problems.length > 0) {
        throw new CommandFailure(problems.join('; '), conflict === '' ? 'GRAFTCTL_PARTIAL' : 'GRAFTCTL_DISAGREEMENT', 1, true);
      }
    });
}
