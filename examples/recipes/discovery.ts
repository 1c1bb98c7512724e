/**
 * Recipe: service discovery with expiring registrations (docs/recipes.md).
 * Run against a cluster: node --import tsx examples/recipes/discovery.ts [HOST:PORT ...]
 */
import { pathToFileURL } from 'node:url';
import { GraftdClient } from '../../src/client/index.ts';

/** Resolves with each instance list discovery reported, as "name=address" strings. */
export async function discoveryExample(endpoints: string[]): Promise<string[]> {
  const client = new GraftdClient({ endpoints });
  const seen: string[] = [];
  const lists = client.discover('examples/web');
  const next = async (): Promise<void> => {
    const { value = [] } = await lists.next();
    seen.push(value.map((i) => `${i.instance}=${i.value}`).join(',') || '(none)');
  };
  try {
    await next(); // (none)
    // A healthy instance: registered with a lease that is kept alive until close().
    const web1 = await client.register('examples/web', 'web-1', { ttl: 2, value: '10.0.0.1:80' });
    await next(); // web-1
    // A crashed instance: its lease is never renewed, so its entry expires after the TTL.
    const lease = await client.leaseGrant(2);
    await client.put('examples/web/web-2', '10.0.0.2:80', { lease: lease.id });
    await next(); // web-1, web-2
    await next(); // web-1 (web-2 expired, web-1 was kept alive meanwhile)
    await web1.close();
    await next(); // (none)
    return seen;
  } finally {
    await lists.return(undefined);
    await client.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const endpoints = process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:11000'];
  for (const list of await discoveryExample(endpoints)) console.log(list);
}
