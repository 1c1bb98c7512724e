// graftd vizor: the event table — one column per node (plus one for clients, faults and lab
// actions when there are any), one row per event, newest on top, rows kept in time order even
// when an event arrives late (it is inserted at its place, not on top).

import { insertionIndex } from './vizor.js?part=timeline';
import { HARNESS } from './vizor.js?part=recording';
import { el, fmtTime } from './vizor.js?part=util';

export function typeOf(e) {
  return e.rpc && (e.kind === 'send' || e.kind === 'recv') ? e.rpc : e.kind;
}

export function describe(e) {
  switch (e.kind) {
    case 'send':
    case 'recv': {
      const arrow = e.kind === 'send' ? `→ ${e.to}` : `← ${e.from}`;
      const parts = [`${e.rpc}${e.resp ? 'Resp' : ''}`, arrow, `t${e.term}`];
      if (e.index !== undefined) parts.push(`i${e.index}`);
      if (e.entries) parts.push(`n=${e.entries}`);
      if (e.commit !== undefined) parts.push(`c${e.commit}`);
      if (e.success !== undefined) parts.push(e.success ? 'ok' : 'reject');
      if (e.detail) parts.push(`(${e.detail})`);
      return parts.join(' ');
    }
    case 'role':
      return `became ${e.role} t${e.term}${e.leader ? ` leader=${e.leader}` : ''}${e.detail ? ` (${e.detail})` : ''}`;
    case 'vote':
      return `${e.rpc === 'PreVote' ? 'pre-vote' : 'vote'} t${e.term} for ${e.to}: ${e.success ? 'granted' : 'refused'}${e.detail ? ` (${e.detail})` : ''}`;
    case 'commit':
      return `commit ${e.index}`;
    case 'apply':
      return `applied ${e.entries} → ${e.index}`;
    case 'snapshot':
      return `snapshot ${e.detail} @${e.index}`;
    case 'membership':
      return `${e.detail} @${e.index}`;
    case 'client':
    case 'fault':
    case 'lab':
    case 'process':
    case 'log':
      return e.detail;
    default:
      return JSON.stringify(e);
  }
}

export class EventTable {
  /** onSelect(e | null) when a row is clicked; visible(e) decides filtering. */
  constructor(head, body, { maxRows = 600, onSelect, visible }) {
    this.head = head;
    this.body = body;
    this.maxRows = maxRows;
    this.onSelect = onSelect;
    this.visible = visible;
    this.columns = [];
    this.rows = [];
    this.trs = new Map();
    this.selected = null;
    body.addEventListener('click', (ev) => {
      const tr = ev.target.closest('tr[data-id]');
      this.select(tr ? tr.dataset.id : null);
    });
    // The raw event as a tooltip, made when first pointed at (not for every row).
    body.addEventListener('mouseover', (ev) => {
      const span = ev.target.closest('span.ev');
      const tr = span?.closest('tr[data-id]');
      if (!tr || span.title) return;
      const e = this.rows.find((r) => r.id === tr.dataset.id);
      if (e) span.title = JSON.stringify(e);
    });
  }

  /** Node columns (and the harness column when `harness`); clears the rows. */
  setColumns(nodeIds, harness, headerOf) {
    this.columns = harness ? [...nodeIds, HARNESS] : [...nodeIds];
    const ths = [el('th', { class: 'time', textContent: 'time' })];
    for (const id of this.columns) ths.push(headerOf(id));
    this.head.replaceChildren(...ths);
    this.clear();
  }

  hasColumn(id) {
    return this.columns.includes(id);
  }

  clear() {
    this.rows = [];
    this.trs.clear();
    this.body.replaceChildren();
    this.selected = null;
  }

  /** Insert `e` at its place in time (filtered-out events get no row); returns false when it gets none. */
  insert(e) {
    if (this.trs.has(e.id)) return this.reposition(e);
    if (!this.visible(e)) return false;
    const i = insertionIndex(this.rows, e);
    if (i === 0 && this.rows.length >= this.maxRows) return false;
    const tr = this.#row(e);
    this.body.insertBefore(tr, i > 0 ? this.trs.get(this.rows[i - 1].id) : null);
    this.rows.splice(i, 0, e);
    this.trs.set(e.id, tr);
    while (this.rows.length > this.maxRows) {
      const gone = this.rows.shift();
      this.trs.get(gone.id)?.remove();
      this.trs.delete(gone.id);
    }
    return true;
  }

  /** Move `e`'s row after its time changed (a receive pushed after its send). */
  reposition(e) {
    const tr = this.trs.get(e.id);
    if (!tr) return false;
    const at = this.rows.findIndex((r) => r.id === e.id);
    if (at !== -1) this.rows.splice(at, 1);
    tr.remove();
    this.trs.delete(e.id);
    return this.insert(e);
  }

  /** Mark both halves of a pair (the send and its receive). */
  markPair(a, b) {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      const tr = this.trs.get(x.id);
      if (tr) tr.dataset.pair = y.id;
    }
  }

  /** Rebuild from `events` (oldest first) up to index `end`: the newest maxRows that pass the filters. */
  rebuild(events, end = events.length) {
    this.clear();
    const shown = [];
    for (let i = end - 1; i >= 0 && shown.length < this.maxRows; i--) if (this.visible(events[i])) shown.push(events[i]);
    for (let i = shown.length - 1; i >= 0; i--) this.insert(shown[i]);
  }

  select(id) {
    for (const tr of this.body.querySelectorAll('tr.selected, tr.paired')) tr.classList.remove('selected', 'paired');
    this.selected = id;
    const tr = id === null ? undefined : this.trs.get(id);
    if (!tr) {
      this.onSelect(null);
      return;
    }
    tr.classList.add('selected');
    const pair = tr.dataset.pair ? this.trs.get(tr.dataset.pair) : undefined;
    if (pair) {
      pair.classList.add('paired');
      pair.scrollIntoView({ block: 'nearest' });
    }
    this.onSelect(this.rows.find((r) => r.id === id) ?? null);
  }

  /** Ids of the rows in display order (newest first), for tests and recordings. */
  ids() {
    return this.rows.map((r) => r.id).reverse();
  }

  #row(e) {
    const tr = el('tr', {
      dataset: { id: e.id, node: e.node, kind: e.kind, type: typeOf(e), t: e.st.toFixed(3) },
    });
    if (e.rpc) tr.dataset.rpc = e.rpc;
    if (e.entries !== undefined) tr.dataset.entries = String(e.entries);
    if (e.pair) tr.dataset.pair = e.pair;
    if (e.late) tr.dataset.late = 'true';
    if (e.bad) tr.classList.add('bad');
    tr.appendChild(el('td', { class: 'time', textContent: fmtTime(e.st) }));
    for (const id of this.columns) {
      const td = el('td');
      if (id === e.node) {
        td.dataset.node = id;
        const span = el('span', { class: `ev${e.success === false ? ' fail' : ''}`, textContent: describe(e) });
        span.dataset.kind = e.kind;
        if (e.rpc) span.dataset.rpc = e.rpc;
        td.appendChild(span);
      }
      tr.appendChild(td);
    }
    return tr;
  }
}
