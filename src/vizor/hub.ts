/**
 * Fan-out of one node's events to the browsers watching it, with hard bounds.
 *
 * Why batching and dropping: a busy leader emits thousands of events per second; one
 * WebSocket frame per event would cost more than the replication itself. Events are queued
 * (bounded, oldest dropped first) and flushed as one JSON array every `flushIntervalMs`. A
 * browser that cannot keep up (its socket buffer grows past `maxClientBufferedBytes`) is
 * disconnected instead of slowing the node. With no client attached, publish() returns at once.
 */
import type { NodeEvent } from '../node/api.ts';
import { vizorNow } from './clock.ts';
import { toVizorEvent, type VizorEvent } from './events.ts';

/** What the hub needs from a connected browser (a `ws` WebSocket adapts to it). */
export interface VizorClient {
  send(text: string): void;
  /** Bytes queued in the socket but not yet written. */
  bufferedBytes(): number;
  close(code: number, reason: string): void;
}

export interface EventHubOptions {
  readonly node: string;
  /** Events replayed to a browser that just connected. Default 200. */
  readonly historySize?: number;
  /** Events waiting for the next flush; beyond it the oldest are dropped and counted. Default 5000. */
  readonly maxPendingEvents?: number;
  /** A client whose socket holds more than this many unsent bytes is disconnected. Default 4 MiB. */
  readonly maxClientBufferedBytes?: number;
  /** Default 100 ms. */
  readonly flushIntervalMs?: number;
  /** Further connections are refused. Default 32. */
  readonly maxClients?: number;
  readonly now?: () => number;
}

/** The WebSocket frame the page receives. */
export interface VizorFrame {
  readonly type: 'events';
  readonly node: string;
  /** Events dropped since the previous frame because the queue was full. */
  readonly dropped: number;
  readonly events: readonly VizorEvent[];
}

/** Close code sent to a browser that fell too far behind. */
export const CLOSE_TOO_SLOW = 4001;
/** Close code sent when the node already has `maxClients` watchers. */
export const CLOSE_TOO_MANY = 4002;

export class EventHub {
  readonly node: string;
  private readonly historySize: number;
  private readonly maxPendingEvents: number;
  private readonly maxClientBufferedBytes: number;
  private readonly flushIntervalMs: number;
  private readonly maxClients: number;
  private readonly now: () => number;
  private readonly clients = new Set<VizorClient>();
  private history: VizorEvent[] = [];
  private pending: VizorEvent[] = [];
  private dropped = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Clients disconnected for being too slow (exposed for tests and metrics). */
  slowClientsDropped = 0;

  constructor(options: EventHubOptions) {
    this.node = options.node;
    this.historySize = options.historySize ?? 200;
    this.maxPendingEvents = options.maxPendingEvents ?? 5000;
    this.maxClientBufferedBytes = options.maxClientBufferedBytes ?? 4 * 1024 * 1024;
    this.flushIntervalMs = options.flushIntervalMs ?? 100;
    this.maxClients = options.maxClients ?? 32;
    this.now = options.now ?? vizorNow;
  }

  /** True while at least one browser watches. */
  get active(): boolean {
    return this.clients.size > 0;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  get pendingCount(): number {
    return this.pending.length;
  }

  /** Record an event for the watchers; free when nobody watches. */
  publish(event: NodeEvent): void {
    if (this.clients.size === 0) return;
    this.seq += 1;
    const record: VizorEvent = { seq: this.seq, ...toVizorEvent(this.node, event, this.now()) };
    if (this.pending.length >= this.maxPendingEvents) {
      this.pending.shift();
      this.dropped += 1;
    }
    this.pending.push(record);
  }

  /** Start sending to `client`; returns the function that detaches it. Refuses (closes) beyond maxClients. */
  attach(client: VizorClient): () => void {
    if (this.clients.size >= this.maxClients) {
      client.close(CLOSE_TOO_MANY, `this node already serves ${this.maxClients} watchers`);
      return () => {};
    }
    this.clients.add(client);
    if (this.history.length > 0) this.sendTo(client, { type: 'events', node: this.node, dropped: 0, events: this.history });
    if (this.timer === null) {
      this.timer = setInterval(() => this.flush(), this.flushIntervalMs);
      this.timer.unref();
    }
    return () => this.detach(client);
  }

  /** Send queued events to every client now (called by the timer; public for tests). */
  flush(): void {
    if (this.pending.length === 0 && this.dropped === 0) return;
    const frame: VizorFrame = { type: 'events', node: this.node, dropped: this.dropped, events: this.pending };
    this.history = this.history.concat(this.pending);
    if (this.history.length > this.historySize) this.history = this.history.slice(this.history.length - this.historySize);
    this.pending = [];
    this.dropped = 0;
    const text = JSON.stringify(frame);
    for (const client of this.clients) this.sendText(client, text);
  }

  /** Disconnect everybody and stop the timer. */
  close(): void {
    for (const client of this.clients) client.close(1001, 'node shutting down');
    this.clients.clear();
    this.stopTimerIfIdle();
  }

  private sendTo(client: VizorClient, frame: VizorFrame): void {
    this.sendText(client, JSON.stringify(frame));
  }

  private sendText(client: VizorClient, text: string): void {
    if (client.bufferedBytes() > this.maxClientBufferedBytes) {
      this.slowClientsDropped += 1;
      this.detach(client);
      client.close(CLOSE_TOO_SLOW, 'too slow: events were produced faster than this client read them');
      return;
    }
    client.send(text);
  }

  private detach(client: VizorClient): void {
    this.clients.delete(client);
    this.stopTimerIfIdle();
  }

  private stopTimerIfIdle(): void {
    if (this.clients.size > 0 || this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
    this.pending = [];
    this.history = [];
    this.dropped = 0;
  }
}
