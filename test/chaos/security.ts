/**
 * Secure mode of a chaos run (`--secure`): the material (CA, per-node certificates, cluster
 * secret, admin user) under the run directory, the graftd flags that turn everything on, and the
 * one way every harness HTTP call reaches a node (https trusting the CA, admin Basic credentials).
 *
 * Why one object passed around instead of a global switch: the plain mode must stay exactly as it
 * was, so each caller keeps its old code path when no `ChaosSecurity` is given.
 */
import { readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';
import { type SecureMaterial, secureMaterial } from '../../scripts/secure-material.ts';

/** The parts of a fetch answer the harness reads (global fetch and undici's fetch both fit). */
export interface FetchAnswer {
  readonly status: number;
  readonly body: { cancel(): Promise<void> } | null;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

/** TLS, secret and users for one chaos run. */
export class ChaosSecurity {
  readonly material: SecureMaterial;
  /** PEM of the CA every node certificate is issued by. */
  readonly ca: Buffer;
  /** `Authorization` header value for the admin user. */
  readonly authorization: string;
  readonly #agent: Agent;

  private constructor(material: SecureMaterial) {
    this.material = material;
    this.ca = readFileSync(material.ca);
    this.authorization = `Basic ${Buffer.from(`admin:${material.password}`, 'utf8').toString('base64')}`;
    this.#agent = new Agent({ connect: { ca: this.ca }, keepAliveTimeout: 2000 });
  }

  /** Make the material in `dir` for nodes `ids`, each certificate valid for DNS:id and every one of `ips`. */
  static async create(dir: string, ids: readonly string[], ips: readonly string[]): Promise<ChaosSecurity> {
    return new ChaosSecurity(await secureMaterial(dir, ids, ips));
  }

  /** graftd flags for node `id`: peer TLS and HTTPS with its certificate, the CA, the secret, the users. */
  nodeArgs(id: string): string[] {
    const c = this.material.certs.get(id);
    if (c === undefined) throw new Error(`no certificate made for node ${id}`);
    return [
      '-cluster-secret-file',
      this.material.secretFile,
      '-peer-cert',
      c.cert,
      '-peer-key',
      c.key,
      '-peer-ca',
      this.material.ca,
      '-http-cert',
      c.cert,
      '-http-key',
      c.key,
      '-http-ca',
      this.material.ca,
      '-auth-file',
      this.material.authFile,
    ];
  }

  /** GET/POST over https with the CA and the admin's credentials (unless `anonymous`). */
  async fetch(url: string, init: { signal?: AbortSignal; anonymous?: boolean } = {}): Promise<FetchAnswer> {
    return undiciFetch(url, {
      dispatcher: this.#agent,
      headers: init.anonymous === true ? {} : { authorization: this.authorization },
      ...(init.signal === undefined ? {} : { signal: init.signal }),
    });
  }

  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}

/** `http` or `https` for a run with or without security. */
export function schemeOf(security: ChaosSecurity | undefined): 'http' | 'https' {
  return security === undefined ? 'http' : 'https';
}

/** A GET the same way in both modes: global fetch in plain mode (as before), https + credentials in secure mode. */
export function harnessFetch(security: ChaosSecurity | undefined, url: string, signal: AbortSignal): Promise<FetchAnswer> {
  return security === undefined ? fetch(url, { signal }) : security.fetch(url, { signal });
}
