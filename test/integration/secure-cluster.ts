/**
 * Real graftd processes with every protection on (TLS + cluster secret on the raft port, HTTPS +
 * users on the API), for the secure integration test and the secure live-view browser test.
 *
 * Why its own helper: the plain Cluster helper speaks http with fetch; a secure cluster needs a CA,
 * credentials and per-node certificates on every call and every start.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { type SecureMaterial, secureMaterial } from '../../scripts/secure-material.ts';
import { type NodeInfo, type NodeProcess, TEST_ENV, spawnGraftd } from './cluster.ts';

export interface NodeStatusLite {
  readonly role?: string;
  readonly leaderId?: string;
  readonly members?: readonly { id: string; voter: boolean }[];
  readonly insecure?: boolean;
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

export class SecureCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'graftd-secure-'));
  readonly infos: ReadonlyMap<string, NodeInfo>;
  readonly procs = new Map<string, NodeProcess>();
  material!: SecureMaterial;
  agent!: Agent;
  admin = '';

  /** `ids[i]` runs on 127.0.0.`firstIp + i`, HTTP `httpPort`, raft `raftPort`. */
  constructor(
    readonly ids: readonly string[],
    firstIp: number,
    httpPort: number,
    raftPort: number,
  ) {
    this.infos = new Map(
      ids.map((id, i) => [
        id,
        {
          id,
          ip: `127.0.0.${firstIp + i}`,
          httpAddr: `127.0.0.${firstIp + i}:${httpPort}`,
          raftAddr: `127.0.0.${firstIp + i}:${raftPort}`,
          dataDir: join(this.root, id),
          logFile: join(this.root, `${id}.log`),
        },
      ]),
    );
  }

  info(id: string): NodeInfo {
    const i = this.infos.get(id);
    if (i === undefined) throw new Error(`unknown node ${id}`);
    return i;
  }

  async prepare(): Promise<void> {
    this.material = await secureMaterial(
      join(this.root, 'secure'),
      this.ids,
      this.ids.map((id) => this.info(id).ip),
    );
    this.agent = new Agent({ connect: { ca: readFileSync(this.material.ca) } });
    this.admin = basic('admin', this.material.password);
  }

  start(id: string, opts: { join?: string; secretFile?: string; env?: Record<string, string> } = {}): NodeProcess {
    const m = this.material;
    const c = m.certs.get(id)!;
    const i = this.info(id);
    const args = [
      ...['-id', id, '-haddr', i.httpAddr, '-raddr', i.raftAddr],
      ...['-cluster-secret-file', opts.secretFile ?? m.secretFile],
      ...['-peer-cert', c.cert, '-peer-key', c.key, '-peer-ca', m.ca],
      ...['-http-cert', c.cert, '-http-key', c.key, '-http-ca', m.ca],
      ...['-auth-file', m.authFile],
    ];
    if (opts.join !== undefined) args.push('-join', this.info(opts.join).httpAddr);
    args.push(i.dataDir);
    const p = spawnGraftd(args, { ...TEST_ENV, ...opts.env }, i.logFile, i);
    this.procs.set(id, p);
    return p;
  }

  /** An HTTPS call as admin (auth: null = no credentials). */
  async call(
    id: string,
    path: string,
    init: { method?: 'GET' | 'POST' | 'DELETE'; body?: string; auth?: string | null } = {},
  ): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
    const headers: Record<string, string> = {};
    const auth = init.auth === undefined ? this.admin : init.auth;
    if (auth !== null) headers.authorization = auth;
    const res = await request(`https://${this.info(id).httpAddr}${path}`, {
      method: init.method ?? 'GET',
      headers,
      ...(init.body === undefined ? {} : { body: init.body }),
      dispatcher: this.agent,
      signal: AbortSignal.timeout(5000),
    });
    return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
  }

  async status(id: string): Promise<NodeStatusLite | undefined> {
    try {
      const r = await this.call(id, '/status');
      return r.status === 200 ? (JSON.parse(r.text) as NodeStatusLite) : undefined;
    } catch {
      return undefined;
    }
  }

  logTail(id: string, chars = 3000): string {
    try {
      return readFileSync(this.info(id).logFile, 'utf8').slice(-chars);
    } catch {
      return '';
    }
  }

  /** Start `voters[0]`, wait for it to lead, join the others through it, wait for all voters. */
  async startVoters(voters: readonly string[], timeoutMs = 40_000): Promise<void> {
    const [first, ...rest] = voters;
    if (first === undefined) return;
    this.start(first);
    await until(`${first} to lead`, async () => ((await this.status(first))?.role === 'leader' ? true : undefined), timeoutMs);
    for (const id of rest) this.start(id, { join: first });
    await until(
      `${voters.length} voters`,
      async () => {
        const s = await this.status(first);
        return s?.members?.filter((x) => x.voter).length === voters.length ? true : undefined;
      },
      timeoutMs,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${rest.map((id) => `--- ${id} log ---\n${this.logTail(id)}`).join('\n')}`);
    });
  }

  async destroy(): Promise<void> {
    for (const p of this.procs.values()) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await Promise.all([...this.procs.values()].map((p) => p.exited));
    await this.agent?.close();
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Poll `f` until it returns something other than undefined. */
export async function until<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
