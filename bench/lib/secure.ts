/**
 * The benchmark's secure mode (`--secure`, `--secure-vs-plain`): certificates, cluster secret and
 * an admin user for the three nodes, the graftd flags that turn them on, and how the client
 * reaches a secure node (https trusting the CA, the admin's Basic credentials on every request).
 *
 * Why the full set at once (peer TLS + secret + HTTPS + auth): that is the recommended production
 * setup (docs/security.md), so it is the cost the issue's goal — secure within 15 % of plaintext
 * throughput at 64 clients — is about.
 */
import { readFileSync } from 'node:fs';
import { type SecureMaterial, secureMaterial } from '../../scripts/secure-material.ts';

/** The separately switchable parts of secure mode (`--secure-parts`), all on by default. */
export const SECURE_PARTS = ['peer-tls', 'secret', 'https', 'auth'] as const;
export type SecurePart = (typeof SECURE_PARTS)[number];

/** Parse `--secure-parts` (comma-separated; `all` = every part; `none`: the "secure" cluster is plain, an A/A control). */
export function parseSecureParts(text: string): SecurePart[] {
  const out = new Set<SecurePart>();
  for (const raw of text.split(',')) {
    const p = raw.trim();
    if (p === 'none') continue;
    if (p === 'all') for (const x of SECURE_PARTS) out.add(x);
    else if ((SECURE_PARTS as readonly string[]).includes(p)) out.add(p as SecurePart);
    else throw new Error(`unknown secure part ${JSON.stringify(p)}; expected all, none or ${SECURE_PARTS.join(', ')}`);
  }
  return [...out];
}

/** What a client needs to talk to a secure cluster. */
export interface ClientSecurity {
  /** PEM of the CA that issued every node's HTTP certificate; undefined when the nodes serve plain http. */
  readonly ca: Buffer | undefined;
  /** `Authorization` header value sent on every request; undefined without users. */
  readonly authorization: string | undefined;
}

export interface BenchSecurity {
  readonly material: SecureMaterial;
  readonly client: ClientSecurity;
  /** graftd flags for node `name`. */
  nodeArgs(name: string): string[];
  /** Env for the nodes: admin credentials for joining when users are on but no secret (else a joiner proves the secret). */
  nodeEnv(): Record<string, string>;
}

/**
 * Make the material in `dir` for nodes `names`, their certificates valid for `ips`; `parts`
 * chooses what the nodes turn on (default all: peer TLS, cluster secret, HTTPS, users).
 */
export async function benchSecurity(
  dir: string,
  names: readonly string[],
  ips: readonly string[],
  parts: readonly SecurePart[] = SECURE_PARTS,
): Promise<BenchSecurity> {
  const material = await secureMaterial(dir, names, ips);
  const on = (p: SecurePart): boolean => parts.includes(p);
  const client: ClientSecurity = {
    ca: on('https') ? readFileSync(material.ca) : undefined,
    authorization: on('auth') ? `Basic ${Buffer.from(`admin:${material.password}`, 'utf8').toString('base64')}` : undefined,
  };
  return {
    material,
    client,
    nodeArgs(name) {
      const c = material.certs.get(name);
      if (c === undefined) throw new Error(`no certificate made for ${name}`);
      return [
        ...(on('secret') ? ['-cluster-secret-file', material.secretFile] : []),
        ...(on('peer-tls') ? ['-peer-cert', c.cert, '-peer-key', c.key, '-peer-ca', material.ca] : []),
        ...(on('https') ? ['-http-cert', c.cert, '-http-key', c.key, '-http-ca', material.ca] : []),
        ...(on('auth') ? ['-auth-file', material.authFile] : []),
      ];
    },
    nodeEnv() {
      return on('auth') && !on('secret') ? { GRAFTD_USER: 'admin', GRAFTD_PASSWORD: material.password } : {};
    },
  };
}
