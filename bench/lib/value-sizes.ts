/**
 * The value-size sweep of `npm run bench -- --value-bytes 64,4096,65536`: parsing the list and
 * turning requests/s into MB/s.
 *
 * Why a list: issue 15 asks for throughput at small and large values side by side (req/s and
 * MB/s, graftd against etcd at each size); one run with one preload per size keeps them
 * comparable.
 */

/** graftd's default limit on one value (src/http/body.ts defaultMaxValueBytes, not configurable on bin/graftd). */
export const MAX_VALUE_BYTES = 256 * 1024;

/**
 * `64,4096,65536` → [64, 4096, 65536]: positive integers, at most `max`, no duplicates, in the
 * order given. Throws an Error with a message naming the bad item.
 */
export function parseValueSizes(text: string, max = MAX_VALUE_BYTES): number[] {
  const sizes: number[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    const n = Number(item);
    if (item === '' || !Number.isInteger(n) || n <= 0)
      throw new Error(`expected positive whole byte counts, found ${JSON.stringify(item)}`);
    if (n > max)
      throw new Error(
        `${n} bytes is above graftd's value limit of ${max} bytes (${max / 1024} KiB, src/http/body.ts defaultMaxValueBytes)`,
      );
    if (sizes.includes(n)) throw new Error(`${n} is listed twice`);
    sizes.push(n);
  }
  return sizes;
}

/** Value bytes moved per second, in MB/s (10^6 bytes): successful requests/s × value bytes. */
export function megabytesPerSecond(requestsPerSecond: number, valueBytes: number): number {
  return (requestsPerSecond * valueBytes) / 1e6;
}

/** MB/s with three significant figures or so: 0.021, 1.23, 45.6, 131. */
export function fmtMBps(n: number): string {
  if (Number.isNaN(n)) return '-';
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  if (n >= 1) return n.toFixed(2);
  return n.toFixed(3);
}
