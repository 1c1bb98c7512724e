/**
 * Recipe: leader election with an observer (docs/recipes.md).
 * Run against a cluster: node --import tsx examples/recipes/election.ts [HOST:PORT ...]
 */
import { pathToFileURL } from 'node:url';
import { GraftdClient } from '../../src/client/index.ts';

/** Two candidates take turns leading 'examples/scheduler'; resolves with what an observer saw. */
export async function electionExample(endpoints: string[]): Promise<string[]> {
  const [a, b, observer] = [0, 1, 2].map(() => new GraftdClient({ endpoints })) as [GraftdClient, GraftdClient, GraftdClient];
  const seen: string[] = [];
  const leaders = observer.observeElection('examples/scheduler');
  const next = async (): Promise<void> => {
    const { value } = await leaders.next();
    seen.push(value?.value ?? '(no leader)');
  };
  try {
    await next(); // (no leader)
    const first = await a.campaign('examples/scheduler', 'node-a', { ttl: 5 });
    await next(); // node-a
    let queued: () => void = () => undefined;
    const inQueue = new Promise<void>((resolve) => {
      queued = resolve;
    });
    const second = b.campaign('examples/scheduler', 'node-b', { ttl: 5, onQueued: () => queued() });
    await inQueue; // node-b's candidacy is registered, behind node-a
    await first.proclaim('node-a, v2');
    await next(); // node-a, v2
    await first.resign();
    const leadership = await second;
    await next(); // node-b
    await leadership.resign();
    await next(); // (no leader)
    return seen;
  } finally {
    await leaders.return(undefined);
    await Promise.all([a.close(), b.close(), observer.close()]);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const endpoints = process.argv.length > 2 ? process.argv.slice(2) : ['127.0.0.1:11000'];
  console.log((await electionExample(endpoints)).join(' → '));
}
