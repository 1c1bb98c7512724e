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

/** What a client needs to talk to a secure cluster. */
export interface ClientSecurity {
  /** PEM of the CA that issued every node's HTTP certificate. */
  readonly ca: Buffer;
  /** `Authorization` header value sent on every request. */
  readonly authorization: string;
}

export interface BenchSecurity {
  readonly material: SecureMaterial;
  readonly client: ClientSecurity;
  /** graftd flags for node `name`. */
  nodeArgs(name: string): string[];
}

/** Make the material in `dir` for nodes `names`, their certificates valid for `ips`. */
export async function benchSecurity(dir: string, names: readonly string[], ips: readonly string[]): Promise<BenchSecurity> {
  const material = await secureMaterial(dir, names, ips);
  const client: ClientSecurity = {
    ca: readFileSync(material.ca),
    authorization: `Basic ${Buffer.from(`admin:${material.password}`, 'utf8').toString('base64')}`,
  };
  return {
    material,
    client,
    nodeArgs(name) {
      const c = material.certs.get(name);
      if (c === undefined) throw new Error(`no certificate made for ${name}`);
      return [
        '-cluster-secret-file',
        material.secretFile,
        '-peer-cert',
        c.cert,
        '-peer-key',
        c.key,
        '-peer-ca',
        material.ca,
        '-http-cert',
        c.cert,
        '-http-key',
        c.key,
        '-http-ca',
        material.ca,
        '-auth-file',
        material.authFile,
      ];
    },
  };
}
