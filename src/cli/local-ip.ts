/**
 * The default raft address host: the first non-loopback IPv4 address (the original's GetLocalIP).
 *
 * Why: a node listening on 0.0.0.0 cannot tell peers how to reach it; the original picked the
 * first non-loopback IPv4 interface address so a container demo needs no address flags
 * (see the seed README's Q&A and hashicorp/raft#438). Pure over its input so it is testable.
 */
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';

/** First non-internal IPv4 address among `interfaces` (os.networkInterfaces() by default); '127.0.0.1' when there is none. */
export function getLocalIp(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string {
  for (const name of Object.keys(interfaces)) {
    for (const info of interfaces[name] ?? []) {
      // Node 18.0–18.3 reported family as a number.
      const v4 = info.family === 'IPv4' || (info.family as unknown) === 4;
      if (v4 && !info.internal && !info.address.startsWith('127.')) return info.address;
    }
  }
  return '127.0.0.1';
}
