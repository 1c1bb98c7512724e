// graftd vizor: the lab panel (only when the node was started by `npm start -- --lab`): per-node
// fault buttons, the client load switch, and what the last fault did — a new leader and how long
// it took, whether commits advance or stall.

import { $, browserNow, el, fmtTime } from './vizor.js?part=util';

const POLL_MS = 1000;
const RATES = [0, 5, 20, 50, 100];
/** Buttons per node: action, label, when it applies. */
const BUTTONS = [
  ['stop', 'stop', (n) => n.process === 'running', 'SIGSTOP: the process freezes; its sockets stay open but nothing answers'],
  ['resume', 'resume', (n) => n.process === 'stopped', 'SIGCONT: the frozen process continues where it stopped'],
  [
    'kill',
    'kill -9',
    (n) => n.process === 'running' || n.process === 'stopped',
    'SIGKILL: the process dies at once; only its disk survives',
  ],
  [
    'restart',
    'restart',
    (n) => n.process !== 'starting',
    'start the node again on its data directory (a live one is stopped gracefully first)',
  ],
  [
    'timeout',
    'time out now',
    (n) => n.process === 'running',
    'force an election: the leader sends TimeoutNow to this node (to the best follower, if this is the leader)',
  ],
  ['isolate', 'isolate', (n, net) => net && n.net !== 'isolated', 'drop every packet between this node and the others (iptables)'],
  ['heal', 'heal', (n, net) => net && n.net !== 'ok', "remove this node's network fault"],
  [
    'slow',
    'slow link',
    (n, net) => net && n.net !== 'slow',
    "lose 30% of this node's packets (iptables -m statistic); TCP resends them late",
  ],
];

export class LabPanel {
  /** fetchJson(url, init) → { status, body }; onLog(entry) for every new action log entry; selfId() names the page's node. */
  constructor({ fetchJson, onLog, selfId, electionHint }) {
    this.fetchJson = fetchJson;
    this.onLog = onLog;
    this.selfId = selfId;
    this.electionHint = electionHint;
    this.state = null;
    this.seenLog = 0;
    this.pending = null;
    this.commit = { index: 0, at: 0 };
    this.timer = null;
    this.rowsKey = '';
    this.rows = new Map();
  }

  /** True when lab mode is on (the panel is then shown and kept up to date). */
  async probe() {
    const r = await this.fetchJson('/ui/lab/state').catch(() => ({ status: 0 }));
    if (r.status !== 200 || !r.body || r.body.lab !== true) return false;
    $('lab-panel').hidden = false;
    document.body.dataset.lab = 'true';
    this.#apply(r.body);
    $('lab-rate').replaceChildren(...RATES.map((v) => el('option', { value: String(v), textContent: v === 0 ? 'off' : `${v} writes/s` })));
    $('lab-rate').addEventListener('change', () => this.act({ action: 'load', rate: Number($('lab-rate').value) }));
    $('lab-nodes').addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-action]');
      if (b) this.act({ action: b.dataset.action, node: b.dataset.node });
    });
    if (this.timer === null) this.timer = setInterval(() => this.refresh(), POLL_MS);
    return true;
  }

  async refresh() {
    const r = await this.fetchJson('/ui/lab/state').catch(() => ({ status: 0 }));
    if (r.status === 200 && r.body) this.#apply(r.body);
  }

  async act(req) {
    const label = req.action === 'load' ? `load ${req.rate}/s` : `${req.action} ${req.node}`;
    const out = $('lab-message');
    out.textContent = `${label}…`;
    out.dataset.ok = '';
    const sentAt = browserNow();
    const before = this.electionHint();
    if (['stop', 'kill', 'timeout', 'isolate', 'restart'].includes(req.action))
      this.pending = { label, sentAt, term: before.term, leader: before.leader, done: false };
    const r = await this.fetchJson('/ui/lab/action', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(req),
    }).catch((err) => ({ status: 0, body: { error: String(err) } }));
    out.dataset.ok = String(r.status === 200);
    out.dataset.action = req.action;
    if (r.status === 200) {
      out.textContent = r.body.message;
      this.#apply(r.body.state);
      if (req.node === this.selfId() && (req.action === 'stop' || req.action === 'kill' || req.action === 'isolate')) {
        out.textContent += ` — ${req.node} serves this page: while it is ${req.action === 'isolate' ? 'cut off' : 'down'} the page shows only what it can still reach; open another node's page to go on:`;
        for (const n of this.state.nodes.filter((x) => x.id !== req.node)) {
          out.append(' ', el('a', { href: `${location.protocol}//${n.httpAddr}/ui`, textContent: n.id }));
        }
      }
      if (!r.body.changed) this.pending = null;
    } else {
      out.textContent = `${label}: ${r.body?.error ?? `HTTP ${r.status}`}`;
      this.pending = null;
    }
    this.#renderEffect();
  }

  /** Feed every timeline event (for the effect line). */
  noteEvent(e) {
    if (e.kind === 'commit' && e.index > this.commit.index) this.commit = { index: e.index, at: browserNow() };
    const p = this.pending;
    if (p && !p.done && e.kind === 'role' && e.role === 'leader' && e.st >= p.sentAt - 5 && e.term > p.term) {
      p.done = true;
      p.newLeader = e.node;
      p.newTerm = e.term;
      p.afterMs = Math.max(0, e.st - p.sentAt);
      this.#renderEffect();
    }
  }

  /** Status polls feed the commit index too (a stalled stream still shows progress). */
  noteCommit(index) {
    if (index > this.commit.index) this.commit = { index, at: browserNow() };
  }

  /** Called every second: commit advancing or stalled. */
  tick() {
    if (this.state === null) return;
    const line = $('lab-commit');
    const idle = this.commit.at === 0 ? 0 : browserNow() - this.commit.at;
    const stalled = this.state.load.rate > 0 && idle > 1500;
    line.dataset.stalled = String(stalled);
    line.textContent =
      this.commit.at === 0
        ? 'commits: none seen yet'
        : stalled
          ? `commits STALLED for ${(idle / 1000).toFixed(1)} s at index ${this.commit.index} (writes are offered: no majority can commit them)`
          : `commits: index ${this.commit.index}${this.state.load.rate > 0 ? ', advancing' : `, last ${(idle / 1000).toFixed(1)} s ago (client load off)`}`;
  }

  #renderEffect() {
    const line = $('lab-effect');
    const p = this.pending;
    if (!p) return;
    const et = this.state?.electionTimeoutMs ?? 0;
    if (p.done) {
      const within = p.afterMs <= 2 * et;
      line.dataset.leader = p.newLeader;
      line.dataset.afterMs = p.afterMs.toFixed(0);
      line.dataset.within = String(within);
      line.textContent = `after "${p.label}": new leader ${p.newLeader} in term ${p.newTerm}, ${p.afterMs.toFixed(0)} ms later (election timeout ${et} ms: ${within ? 'within' : 'beyond'} 2 × ${et} ms)`;
    } else {
      delete line.dataset.leader;
      line.dataset.within = '';
      line.textContent = `after "${p.label}" at ${fmtTime(p.sentAt)}: watching for a new term and leader… (election timeout ${et} ms: randomised in [${et}, ${2 * et}) ms)`;
    }
  }

  /** The node rows are built once and then updated in place (a button must not vanish under the pointer). */
  #renderNodes(state) {
    const key = state.nodes.map((n) => n.id).join(',');
    if (this.rowsKey !== key) {
      this.rowsKey = key;
      this.rows = new Map();
      for (const n of state.nodes) {
        const cells = { name: el('td'), proc: el('td'), net: el('td') };
        const buttons = BUTTONS.map(([action, label]) =>
          el('button', { type: 'button', textContent: label, dataset: { action, node: n.id } }),
        );
        const tr = el(
          'tr',
          { dataset: { labNode: n.id } },
          cells.name,
          cells.proc,
          cells.net,
          el('td', { class: 'lab-buttons' }, ...buttons),
        );
        this.rows.set(n.id, { tr, cells, buttons });
      }
      $('lab-nodes').replaceChildren(...[...this.rows.values()].map((r) => r.tr));
    }
    for (const n of state.nodes) {
      const r = this.rows.get(n.id);
      r.tr.dataset.process = n.process;
      r.tr.dataset.net = n.net;
      r.cells.name.textContent = n.id + (n.id === this.selfId() ? ' (this page)' : '');
      r.cells.proc.className = `proc-${n.process}`;
      r.cells.proc.textContent = n.process;
      r.cells.net.className = `net-${n.net}`;
      r.cells.net.textContent = n.net === 'slow' ? `slow (${Math.round(n.loss * 100)}% loss)` : n.net;
      BUTTONS.forEach(([action, , applies, title], i) => {
        const b = r.buttons[i];
        const netAction = ['isolate', 'heal', 'slow'].includes(action);
        b.disabled = !applies(n, state.network.available);
        b.title = !state.network.available && netAction ? state.network.reason : title;
      });
    }
  }

  #apply(state) {
    this.state = state;
    $('lab-timing').textContent = `election timeout ${state.electionTimeoutMs} ms · heartbeat ${state.heartbeatMs} ms`;
    $('lab-net-note').textContent = state.network.available ? '' : state.network.reason;
    $('lab-net-note').hidden = state.network.available;
    this.#renderNodes(state);
    if (document.activeElement !== $('lab-rate')) $('lab-rate').value = String(RATES.includes(state.load.rate) ? state.load.rate : 0);
    const l = state.load;
    $('lab-load-stats').textContent =
      l.rate === 0 && l.ok + l.failed === 0
        ? ''
        : `${l.ok} ok, ${l.failed} failed, ${l.inFlight} in flight${l.lastError ? ` — last error: ${l.lastError}` : ''}`;
    $('lab-load-stats').dataset.ok = String(l.ok);
    const log = state.log;
    $('lab-log').replaceChildren(
      ...log
        .slice(-6)
        .reverse()
        .map((x) =>
          el('li', { class: x.ok ? '' : 'fail', textContent: `${fmtTime(x.t)} ${x.action}${x.node ? ` ${x.node}` : ''}: ${x.message}` }),
        ),
    );
    // Entries are appended (bounded at the front): pass on the new ones by their time.
    for (const x of log) {
      if (x.t > this.seenLog) {
        this.seenLog = x.t;
        this.onLog(x);
      }
    }
  }
}
