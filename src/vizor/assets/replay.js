// graftd vizor: replay of a recording — play/pause, step, speed, a scrubber with the fault
// windows under it, and the cluster state at the cursor rebuilt from the events (plus the status
// snapshots a live recording carries). The page draws; this module keeps time.

import { $, el, fmtTime } from './vizor.js?part=util';

export const SPEEDS = [0.1, 0.25, 0.5, 1, 2, 5, 10];

/** Index of the first event after `t` in `events` (sorted by st). */
export function upperBound(events, t) {
  let lo = 0;
  let hi = events.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (events[mid].st <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Node state at a cursor, from the events before it and the last status snapshot of each node not
 * after it. Moving forward applies only what is new (playing costs per frame what the frame
 * shows); moving back starts over.
 */
export class StateDeriver {
  constructor(rec) {
    this.rec = rec;
    this.#reset();
  }

  #reset() {
    this.s = new Map(this.rec.nodes.map((id) => [id, { id, role: 'unknown', reachable: true, proc: 'running', net: 'ok' }]));
    this.upto = 0;
    this.statusIdx = 0;
    this.t = Number.NEGATIVE_INFINITY;
  }

  /** Cards for the picture at events[0..upto) and time t. */
  at(upto, t) {
    if (upto < this.upto || t < this.t) this.#reset();
    const s = this.s;
    for (let i = this.upto; i < upto; i++) {
      const e = this.rec.events[i];
      const n = s.get(e.node);
      if (n) {
        if (e.kind === 'role') Object.assign(n, { role: e.role, term: e.term, leader: e.leader });
        else if (e.kind === 'commit') n.commitIndex = e.index;
        else if (e.kind === 'apply') n.appliedIndex = e.index;
        else if (e.kind === 'process') {
          n.proc = /^started/.test(e.detail) ? 'running' : 'dead';
          if (n.proc === 'running') n.role = 'follower';
        }
      }
      if (e.kind === 'lab' && s.has(e.target)) applyLab(s.get(e.target), e.action);
      if (e.kind === 'fault') applyFault(s, e.detail);
    }
    const statuses = this.rec.statuses;
    for (; this.statusIdx < statuses.length && statuses[this.statusIdx].st <= t; this.statusIdx++) {
      const st = statuses[this.statusIdx];
      const n = s.get(st.node);
      if (!n) continue;
      if (st.status === null) n.reachable = false;
      else
        Object.assign(n, {
          reachable: true,
          role: st.status.role,
          term: st.status.term,
          lastIndex: st.status.lastIndex,
          commitIndex: st.status.commitIndex,
          appliedIndex: st.status.appliedIndex,
        });
    }
    this.upto = upto;
    this.t = t;
    return [...s.values()].map((n) => {
      const reachable = n.reachable && n.proc === 'running';
      return { ...n, reachable, role: reachable ? n.role : 'unknown' };
    });
  }
}

function applyLab(n, action) {
  if (action === 'stop') n.proc = 'stopped';
  else if (action === 'resume' || action === 'restart') n.proc = 'running';
  else if (action === 'kill') n.proc = 'dead';
  else if (action === 'isolate') n.net = 'isolated';
  else if (action === 'slow') n.net = 'slow';
  else if (action === 'heal') n.net = 'ok';
}

/** Chaos fault details (test/chaos/faults.ts) → node states, best effort. */
function applyFault(s, detail) {
  if (/^healed /.test(detail)) {
    for (const n of s.values()) {
      if (n.proc === 'stopped') n.proc = 'running';
      n.net = 'ok';
    }
    return;
  }
  const kill = /kill -9 (\S+)/.exec(detail);
  if (kill && s.has(kill[1])) s.get(kill[1]).proc = 'dead';
  const stop = /SIGSTOP (\S+)/.exec(detail);
  if (stop && s.has(stop[1])) s.get(stop[1]).proc = 'stopped';
  const iso = /isolate (?:leader|follower) (\S+?):/.exec(detail);
  if (iso && s.has(iso[1])) s.get(iso[1]).net = 'isolated';
}

export class Player {
  /** onCursor(t) redraws at time t. */
  constructor({ onCursor }) {
    this.onCursor = onCursor;
    this.rec = null;
    this.t = 0;
    this.playing = false;
    this.speed = 1;
    this.last = 0;
    $('replay-play').addEventListener('click', () => (this.playing ? this.pause() : this.play()));
    $('replay-step').addEventListener('click', () => this.step());
    $('replay-speed').replaceChildren(...SPEEDS.map((v) => el('option', { value: String(v), textContent: `${v}×`, selected: v === 1 })));
    $('replay-speed').addEventListener('change', () => {
      this.speed = Number($('replay-speed').value);
    });
    $('replay-scrubber').addEventListener('input', () => this.seek(this.start + Number($('replay-scrubber').value)));
    $('replay-violation-jump').addEventListener('click', () => this.rec?.violation && this.seek(this.rec.violation.st));
  }

  load(rec) {
    this.rec = rec;
    const first = rec.events.length > 0 ? rec.events[0].st : 0;
    const last = rec.events.length > 0 ? rec.events[rec.events.length - 1].st : 0;
    this.start = Math.floor(first);
    this.end = Math.ceil(last);
    $('replay-bar').hidden = false;
    $('replay-title').textContent = rec.title;
    $('replay-scrubber').max = String(this.end - this.start);
    const span = Math.max(1, this.end - this.start);
    $('replay-faults').replaceChildren(
      ...rec.faults.map((f) => {
        const end = f.end ?? this.end;
        return el('span', {
          class: 'fault-window',
          title: `${f.name}: ${f.detail}`,
          style: `left:${(100 * (f.start - this.start)) / span}%;width:${Math.max(0.3, (100 * (end - f.start)) / span)}%`,
        });
      }),
    );
    const v = rec.violation;
    $('replay-violation').hidden = !v;
    if (v) {
      $('replay-violation-text').textContent = `violation${v.key ? ` on key ${v.key}` : ''}: ${v.message}`;
      $('replay-faults').append(
        el('span', { class: 'violation-mark', title: 'violation', style: `left:${(100 * (v.st - this.start)) / span}%` }),
      );
    }
    $('replay-notes').textContent = rec.notes.join(' · ');
    this.pause();
    this.seek(v ? v.st : this.start);
  }

  play() {
    if (!this.rec) return;
    if (this.t >= this.end) this.seek(this.start);
    this.playing = true;
    $('replay-play').textContent = 'Pause';
    this.last = performance.now();
    requestAnimationFrame((now) => this.#frame(now));
  }

  pause() {
    this.playing = false;
    $('replay-play').textContent = 'Play';
  }

  /** Move to the next event (paused). */
  step() {
    if (!this.rec) return;
    this.pause();
    const i = upperBound(this.rec.events, this.t);
    if (i < this.rec.events.length) this.seek(this.rec.events[i].st);
  }

  seek(t) {
    this.t = Math.min(this.end, Math.max(this.start, t));
    $('replay-scrubber').value = String(Math.round(this.t - this.start));
    $('replay-time').textContent =
      `${fmtTime(this.t)} (+${((this.t - this.start) / 1000).toFixed(3)} s of ${((this.end - this.start) / 1000).toFixed(1)} s)`;
    $('replay-time').dataset.t = this.t.toFixed(3);
    this.onCursor(this.t);
  }

  #frame(now) {
    if (!this.playing) return;
    const dt = now - this.last;
    this.last = now;
    this.seek(this.t + dt * this.speed);
    if (this.t >= this.end) this.pause();
    else requestAnimationFrame((n) => this.#frame(n));
  }
}
