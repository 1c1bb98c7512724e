/**
 * Recipe: a distributed lock with a fenced write (docs/recipes.md).
 * Run against a cluster: node --import tsx examples/recipes/lock.ts [HOST:PORT ...]
 */
import { pathToFileURL } from 'node:url';
import { GraftdClient } from '../../src/client/index.ts';

/** Two workers add 1 to a shared counter three times each, under the lock; resolves with the final count. */
export async function lockExample(endpoints: string[]): Promise<number> {
  const client = new GraftdClient({ endpoints });
  try {
    await client.put('examples/counter', '0');
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        const lock = await client.lock('examples/counter-lock', { ttl: 5 });
        try {
          const { kv } = await client.getMeta('examples/counter');
          // Fenced: written only while our lock key is still the one we created (the lease is alive).
          const write = await client.txn({
            compare: [{ key: lock.key, target: 'createRevision', op: '=', value: lock.fencingToken }],
            success: [{ put: { key: 'examples/counter', value: String(Number(kv?.value) + 1) } }],
            failure: [],
          });
          if (!write.succeeded) throw new Error(`lost the lock before writing (token ${lock.fencingToken})`);
        } finally {
          await lock.release();
        }
      }
    };
    await Promise.all([worker(), worker()]);
    return Number(await client.get('examples/counter'));
  } finally {
    await client.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const endpoints = process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:11000'];
  console.log(`counter: ${await lockExample(endpoints)}`); // counter: 6
}
