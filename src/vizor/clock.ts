/**
 * The live view's clock: wall-clock milliseconds with sub-millisecond precision.
 *
 * Why not Date.now(): events of one write on three nodes on one machine fall within the same
 * millisecond; whole milliseconds would tie and the merged timeline could not order them. The
 * same clock stamps events and answers the page's clock-offset probes (x-graftd-now), so an
 * offset estimated from the probes applies exactly to the events.
 */

/** Header carrying the answering node's vizorNow() (on /status and the member-status relay). */
export const NOW_HEADER = 'x-graftd-now';
/** Relay answer headers: the member's clock minus the relaying node's, and the relay's round trip (ms). */
export const MEMBER_OFFSET_HEADER = 'x-graftd-member-offset';
export const MEMBER_RTT_HEADER = 'x-graftd-member-rtt';

/** Milliseconds since the epoch, to the microsecond. */
export function vizorNow(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}
