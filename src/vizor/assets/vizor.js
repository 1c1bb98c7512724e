// graftd vizor: connects to every member's /events stream and polls their status, then draws
// the cluster picture (roles, terms, indexes, messages in flight) and one timeline of all nodes'
// events (one column per node, rows in time order across nodes, sends paired with receives).
// In lab mode (`npm start -- --lab`) it adds the fault buttons; a recording (the "record"
// button's file, or a chaos run's directory) is played back in the same table and picture.
// Plain browser JavaScript modules, no dependencies, so the page works offline from any node.

import { explain, SECTIONS } from './vizor.js?part=guide';
import { LabPanel } from './vizor.js?part=lab';
import { drawPicture, launch, showArrow } from './vizor.js?part=picture';
import { chaosRunToRecording, HARNESS, isChaosRun, makeRecording, parseRecording } from './vizor.js?part=recording';
import { Player, StateDeriver, upperBound } from './vizor.js?part=replay';
import { EventTable, typeOf } from './vizor.js?part=table';
import { ClockEstimator, Timeline } from './vizor.js?part=timeline';
import { $, browserNow, el, fmtTime } from './vizor.js?part=util';

const MAX_ROWS = 600;
const STATUS_POLL_MS = 1000;
const RELEASE_MS = 100;
const REORDER_WINDOW_MS = 300;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;
/** Events and status snapshots a live recording keeps (beyond: it stops by itself). */
const MAX_RECORDED = 300000;
const MAX_RECENT = 8;
/** Released events kept in memory, so that changing a filter can rebuild the table. */
const MAX_KEPT = 20000;
const TYPES = [
  'AppendEntries',
  'Heartbeat',
  'ReadIndex',
  'RequestVote',
  'PreVote',
  'InstallSnapshot',
  'TimeoutNow',
  'role',
  'vote',
  'commit',
  'apply',
  'snapshot',
  'membership',
  'client',
  'fault',
  'lab',
  'process',
  'log',
];

/** id -> { id, httpAddr, voter, status, reachable, ws, backoffMs, lastSeq } */
const nodes = new Map();
let selfId = '';
let mode = 'live';
let paused = false;
const hiddenTypes = new Set();
const hiddenNodes = new Set();
let eventCount = 0;
let droppedCount = 0;
let pollTimer = null;
let labOn = false;
let labSeq = 0;
let recording = null;
let lastRecording = null;
let replayRec = null;
let replayShown = { t: -1, upto: 0 };
let deriver = null;
let shownRecentAt = -1;
const recent = [];
/** The last MAX_KEPT released events, oldest first (live mode). */
let kept = [];
let lastCommitExplained = 0;

const clocks = new ClockEstimator();
const timeline = new Timeline({ windowMs: REORDER_WINDOW_MS });
const table = new EventTable($('events-head'), $('events-body'), { maxRows: MAX_ROWS, onSelect, visible });

// ---------- credentials (only when the node has an auth file) ----------

const AUTH_KEY = 'graftd-auth';
/** { header: 'Basic …' | 'Bearer …', protocol: 'graftd-auth.…' } or null; kept per tab. */
let auth = loadAuth();
/** True once a node answered 401/403: the page then waits for the login form. */
let authRequired = false;

function loadAuth() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(AUTH_KEY) ?? 'null');
    return saved && typeof saved.header === 'string' && typeof saved.protocol === 'string' ? saved : null;
  } catch {
    return null;
  }
}

function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

function base64url(text) {
  return base64(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function makeAuth(user, password, token) {
  if (token !== '') {
    return { header: `Bearer ${token}`, protocol: `graftd-auth.${base64url(`bearer:${token}`)}` };
  }
  return { header: `Basic ${base64(`${user}:${password}`)}`, protocol: `graftd-auth.${base64url(`${user}:${password}`)}` };
}

function showLogin(message) {
  authRequired = true;
  $('login-form').hidden = false;
  $('logout').hidden = true;
  $('login-error').textContent = message;
}

function onLogin(ev) {
  ev.preventDefault();
  auth = makeAuth($('login-user').value, $('login-password').value, $('login-token').value);
  sessionStorage.setItem(AUTH_KEY, JSON.stringify(auth));
  $('login-password').value = '';
  $('login-token').value = '';
  $('login-form').hidden = true;
  $('logout').hidden = false;
  for (const n of nodes.values()) {
    n.backoffMs = RECONNECT_MIN_MS;
    if (n.ws === null) connect(n);
  }
  pollStatus();
}

function onLogout() {
  auth = null;
  sessionStorage.removeItem(AUTH_KEY);
  for (const n of nodes.values()) if (n.ws) n.ws.close();
  showLogin('');
}

function hostOf(addr) {
  const [host, port] = addr.split(/:(?=\d+$)/);
  const h = host === '0.0.0.0' || host === '' || host === '::' ? location.hostname : host;
  return `${h}:${port}`;
}

function nodeOrder() {
  return [...nodes.keys()].sort();
}

// ---------- membership, status and clocks ----------

async function fetchJson(url, init = {}) {
  // Without the marker a 401 would carry a Basic challenge and the browser would hold the fetch
  // behind its own login dialog; this page has its own form.
  const headers = { 'x-graftd-no-basic-challenge': '1', ...(init.headers ?? {}) };
  if (auth) headers.authorization = auth.header;
  const res = await fetch(url, { cache: 'no-store', ...init, headers });
  const text = await res.text();
  let body = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = { error: text };
  }
  return { status: res.status, body, headers: res.headers };
}

function ensureNode(member) {
  let n = nodes.get(member.id);
  if (n === undefined) {
    n = {
      id: member.id,
      httpAddr: member.httpAddr,
      voter: member.voter,
      status: null,
      reachable: false,
      ws: null,
      backoffMs: RECONNECT_MIN_MS,
      lastSeq: 0,
    };
    nodes.set(member.id, n);
    connect(n);
    rebuildColumns();
  } else {
    n.voter = member.voter;
    if (member.httpAddr !== '' && member.httpAddr !== n.httpAddr) {
      n.httpAddr = member.httpAddr;
      if (n.ws) n.ws.close();
    }
  }
  return n;
}

let polling = false;

/** One status round (skipped while the previous one is still out: slow links must not pile them up). */
async function pollStatus() {
  if (mode !== 'live' || polling) return;
  polling = true;
  try {
    await pollOnce();
  } finally {
    polling = false;
  }
}

async function pollOnce() {
  try {
    const self = await fetchJson('/status');
    if (self.status === 401 || self.status === 403) {
      const why = self.status === 401 ? (auth ? 'wrong user name, password or token' : '') : 'these credentials lack the role needed';
      if ($('login-form').hidden || why !== '') showLogin(why);
      return;
    }
    if (self.status === 200 && self.body) {
      if (auth) $('logout').hidden = false;
      selfId = self.body.id;
      $('served-by').textContent = `served by ${selfId} (${location.host})`;
      const ids = new Set();
      for (const m of self.body.members) {
        ids.add(m.id);
        ensureNode(m);
      }
      ensureNode({ id: self.body.id, httpAddr: self.body.httpAddr || location.host, voter: true });
      ids.add(self.body.id);
      for (const id of [...nodes.keys()]) {
        if (!ids.has(id)) {
          const n = nodes.get(id);
          if (n.ws) n.ws.close();
          nodes.delete(id);
          rebuildColumns();
        }
      }
      if (!labOn && !lab.probing) {
        lab.probing = true;
        labOn = await lab.probe();
        if (labOn) rebuildColumns();
      }
    }
  } catch {
    $('served-by').textContent = `cannot reach ${location.host}`;
  }
  await Promise.all([...nodes.values()].map(pollMember));
  if (mode !== 'live') return;
  const commit = Math.max(0, ...[...nodes.values()].map((n) => (n.reachable && n.status ? n.status.commitIndex : 0)));
  lab.noteCommit(commit);
  lab.tick();
  redrawLive();
}

/** One member's status through the relay, with a clock-offset sample from the round trip. */
async function pollMember(n) {
  const sent = browserNow();
  try {
    const r = await fetchJson(`/ui/members/${encodeURIComponent(n.id)}/status`);
    const received = browserNow();
    if (r.status === 200 && r.body) {
      n.status = r.body;
      setReachable(n, true);
      const servingNow = Number(r.headers.get('x-graftd-now'));
      const memberOffset = Number(r.headers.get('x-graftd-member-offset'));
      const memberRtt = Number(r.headers.get('x-graftd-member-rtt'));
      if (servingNow > 0 && r.headers.has('x-graftd-member-offset')) {
        clocks.add(n.id, servingNow - (sent + received) / 2 + memberOffset, (received - sent) / 2 + memberRtt / 2);
        showClock(n.id);
      }
    } else setReachable(n, false);
  } catch {
    setReachable(n, false);
  }
  if (recording) record('status', { st: browserNow(), node: n.id, status: n.reachable ? n.status : null });
}

function showClock(id) {
  const small = document.querySelector(`#events-head th[data-node="${CSS.escape(id)}"] .clock`);
  if (!small) return;
  const c = clocks.get(id);
  if (!Number.isFinite(c.err)) return;
  const sign = c.offset >= 0 ? '+' : '−';
  const est = `${sign}${Math.abs(c.offset).toFixed(1)} ±${c.err.toFixed(1)} ms`;
  small.textContent = c.applied === 0 ? `clock ≈ same (${est})` : `clock ${est}`;
  small.dataset.offset = c.applied.toFixed(3);
  small.closest('th').title =
    `${id}'s clock minus this browser's, estimated from the status round trips (the fastest of the last 20); applied to its events when larger than its uncertainty`;
}

function setReachable(n, reachable) {
  if (n.reachable === reachable) return;
  n.reachable = reachable;
  const th = document.querySelector(`#events-head th[data-node="${CSS.escape(n.id)}"]`);
  if (th) {
    th.dataset.reachable = String(reachable);
    th.querySelector('.col-name').textContent = reachable ? n.id : `${n.id} (unreachable)`;
  }
}

// ---------- event streams ----------

function connect(n) {
  if (n.httpAddr === '' || mode !== 'live') return;
  if (authRequired && !auth) return; // wait for the login form
  let ws;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  try {
    // Browsers cannot set headers on a WebSocket: credentials travel as a subprotocol.
    ws = auth
      ? new WebSocket(`${scheme}://${hostOf(n.httpAddr)}/events`, ['graftd-events', auth.protocol])
      : new WebSocket(`${scheme}://${hostOf(n.httpAddr)}/events`);
  } catch {
    scheduleReconnect(n);
    return;
  }
  n.ws = ws;
  ws.onopen = () => {
    n.backoffMs = RECONNECT_MIN_MS;
    updateStreamState();
  };
  ws.onmessage = (msg) => {
    let frame;
    try {
      frame = JSON.parse(msg.data);
    } catch {
      return;
    }
    if (frame.type !== 'events' || mode !== 'live') return;
    if (frame.dropped > 0) droppedCount += frame.dropped;
    for (const e of frame.events) onEvent(n, e);
  };
  ws.onclose = () => {
    if (n.ws === ws) n.ws = null;
    updateStreamState();
    if (nodes.get(n.id) === n && mode === 'live') {
      setReachable(n, false);
      redrawLive();
      scheduleReconnect(n);
    }
  };
}

function scheduleReconnect(n) {
  const delay = n.backoffMs * (0.5 + Math.random());
  n.backoffMs = Math.min(n.backoffMs * 2, RECONNECT_MAX_MS);
  setTimeout(() => {
    if (nodes.get(n.id) === n && n.ws === null) connect(n);
  }, delay);
}

function updateStreamState() {
  if (mode === 'replay') {
    $('stream-state').textContent = 'replay (live streams closed)';
    return;
  }
  const open = [...nodes.values()].filter((x) => x.ws && x.ws.readyState === WebSocket.OPEN).length;
  $('stream-state').textContent = `${open}/${nodes.size} event streams open`;
}

function onEvent(n, raw) {
  if (raw.seq <= n.lastSeq) return; // replayed history after a reconnect
  n.lastSeq = raw.seq;
  eventCount += 1;
  if (raw.kind === 'role' && n.status) n.status = { ...n.status, role: raw.role, term: raw.term, leaderId: raw.leader };
  for (const changed of timeline.add({ ...raw, node: n.id }, clocks.get(n.id).applied)) {
    const partner = timeline.get(changed.pair);
    if (partner) table.markPair(changed, partner);
    if (changed.moved) table.reposition(changed);
  }
  if (raw.kind === 'send' && raw.to && !(raw.rpc === 'Heartbeat' && $('hide-heartbeats').checked))
    launch($('picture'), nodeOrder(), raw.from, raw.to, raw.rpc, raw.resp);
  if (raw.kind === 'role') redrawLive();
}

/** Events leave the reorder window here: into the table, the lab's effect line, the guide, a recording. */
function releaseEvents() {
  if (mode !== 'live') return;
  const out = timeline.release(browserNow());
  for (const e of out) {
    if (recording) record('event', strip(e));
    lab.noteEvent(e);
    noteRecent(e);
    if (!e.late) kept.push(e);
    else kept.splice(lastIndexAfter(kept, e), 0, e);
  }
  if (kept.length > MAX_KEPT * 1.25) kept = kept.slice(kept.length - MAX_KEPT);
  if (!paused) for (const e of out.length > MAX_ROWS * 2 ? out.slice(-MAX_ROWS * 2) : out) table.insert(e);
  if (recording) $('record').textContent = `Stop recording (${recording.events.length} events)`;
  $('counts').textContent =
    `${eventCount} events${droppedCount ? `, ${droppedCount} dropped by nodes (too fast)` : ''}${timeline.late ? `, ${timeline.late} arrived after the ${REORDER_WINDOW_MS} ms window (placed at their time)` : ''}`;
}

/** Where a late event goes in `kept` (after every event not later than it). */
function lastIndexAfter(list, e) {
  let i = list.length;
  while (i > 0 && list[i - 1].st > e.st) i--;
  return i;
}

/** Show the rows again after a filter changed. */
function refilter() {
  if (mode === 'replay') table.rebuild(replayRec.events, replayShown.upto);
  else table.rebuild(kept);
}

function strip(e) {
  const { late: _l, moved: _m, ...rest } = e;
  return rest;
}

/** A lab action as a timeline event in the harness column. */
function onLabLog(x) {
  labSeq += 1;
  timeline.addCorrected({
    node: HARNESS,
    seq: labSeq,
    id: `${HARNESS}:lab${labSeq}`,
    st: x.t,
    t: x.t,
    kind: 'lab',
    action: x.action,
    target: x.node,
    success: x.ok,
    detail: `${x.action}${x.node ? ` ${x.node}` : ''}: ${x.message}`,
  });
}

// ---------- table, filters, selection ----------

function headerOf(id) {
  if (id === HARNESS)
    return el('th', { dataset: { harness: 'true' } }, el('span', { class: 'col-name', textContent: 'clients · faults · lab' }));
  const n = nodes.get(id);
  const reachable = mode === 'replay' || (n ? n.reachable : true);
  const th = el(
    'th',
    { dataset: { node: id, reachable: String(reachable) } },
    el('span', { class: 'col-name', textContent: reachable ? id : `${id} (unreachable)` }),
    el('small', { class: 'clock' }),
  );
  return th;
}

function rebuildColumns() {
  const ids = mode === 'replay' ? replayRec.nodes : nodeOrder();
  const harness = mode === 'replay' ? replayRec.events.some((e) => e.node === HARNESS) : labOn;
  table.setColumns(ids, harness, headerOf);
  if (mode === 'live') for (const id of ids) showClock(id);
  rebuildNodeFilters(ids);
  updateStreamState();
}

function visible(e) {
  const type = typeOf(e);
  if (hiddenNodes.has(e.node) || hiddenTypes.has(type)) return false;
  if (type === 'Heartbeat' && $('hide-heartbeats').checked) return false;
  return true;
}

function onSelect(e) {
  const ids = mode === 'replay' ? replayRec.nodes : nodeOrder();
  showArrow($('picture'), ids, e && (e.kind === 'send' || e.kind === 'recv') ? e : null);
  const box = $('guide-selected');
  if (!e) {
    box.replaceChildren(
      el('p', {
        class: 'muted',
        textContent:
          'Click a row: its meaning shows here, and a message row lights up its other half (send ↔ receive) and its arrow in the picture.',
      }),
    );
    return;
  }
  const x = explain(e);
  const pair = e.pair ? (timeline.get(e.pair) ?? replayRec?.events.find((r) => r.id === e.pair)) : undefined;
  box.replaceChildren(
    el('p', { textContent: x ? x.text : 'A routine message (heartbeats keep followers from starting elections).' }),
    ...(x ? [el('p', {}, el('a', { href: x.section.href, target: '_blank', rel: 'noopener', textContent: x.section.label }))] : []),
    ...(e.kind === 'send' || e.kind === 'recv'
      ? [
          el('p', {
            class: 'muted',
            textContent: pair
              ? `${e.kind === 'send' ? 'received' : 'sent'} at ${fmtTime(pair.st)} by ${pair.node} (${Math.abs(pair.st - e.st).toFixed(2)} ms apart)`
              : 'its other half is not in view (lost, dropped by a fault, or not yet arrived)',
          }),
        ]
      : []),
  );
}

/** Whether `e` belongs in the guide's "recently" list (elections, votes, snapshots, faults; commits at most every 2 s). */
function notable(e) {
  if (e.kind === 'send' || e.kind === 'recv' || e.kind === 'apply' || e.kind === 'client') return null;
  const x = explain(e);
  if (
    !x ||
    x.topic === 'replication' ||
    x.topic === 'read' ||
    x.topic === 'client' ||
    e.kind === 'apply' ||
    e.kind === 'send' ||
    e.kind === 'recv'
  )
    return null;
  if (e.kind === 'commit') {
    if (Math.abs(e.st - lastCommitExplained) < 2000) return null;
    lastCommitExplained = e.st;
  }
  return x;
}

/** The guide's "recently" list: notable events in plain words, newest first. */
function noteRecent(e) {
  const x = notable(e);
  if (!x) return;
  recent.unshift({ e, x });
  if (recent.length > MAX_RECENT) recent.pop();
  renderRecent();
}

/** In a replay: the notable events just before the cursor. */
function recentBefore(events, upto) {
  recent.length = 0;
  lastCommitExplained = 0;
  for (let i = upto - 1; i >= 0 && i >= upto - 2000 && recent.length < MAX_RECENT; i--) {
    const x = notable(events[i]);
    if (x) recent.push({ e: events[i], x });
  }
  renderRecent();
}

function renderRecent() {
  $('guide-recent').replaceChildren(
    ...recent.map((r) =>
      el(
        'li',
        { dataset: { topic: r.x.topic } },
        el('span', { class: 'muted', textContent: `${fmtTime(r.e.st)} ` }),
        r.x.text,
        ' ',
        el('a', { href: r.x.section.href, target: '_blank', rel: 'noopener', textContent: `(${r.x.section.label})` }),
      ),
    ),
  );
}

function checkbox(label, checked, onChange, data) {
  const input = el('input', { type: 'checkbox', checked, dataset: data });
  input.addEventListener('change', () => onChange(input.checked));
  return el('label', {}, input, ` ${label}`);
}

function buildTypeFilters() {
  const details = el('details', {}, el('summary', { textContent: 'types' }));
  for (const t of TYPES) {
    details.appendChild(
      checkbox(
        t,
        true,
        (on) => {
          if (on) hiddenTypes.delete(t);
          else hiddenTypes.add(t);
          refilter();
        },
        { filterType: t },
      ),
    );
  }
  $('type-filters').replaceChildren(details);
}

function rebuildNodeFilters(ids) {
  const box = $('node-filters');
  box.replaceChildren();
  for (const id of ids) {
    box.appendChild(
      checkbox(
        id,
        !hiddenNodes.has(id),
        (on) => {
          if (on) hiddenNodes.delete(id);
          else hiddenNodes.add(id);
          refilter();
        },
        { filterNode: id },
      ),
    );
  }
}

// ---------- picture ----------

function liveRole(n) {
  if (!n.reachable || n.status === null) return 'unknown';
  if (n.status.role === 'follower' && n.status.members && n.status.members.some((m) => m.id === n.id && !m.voter)) return 'learner';
  return n.status.role;
}

function redrawLive() {
  if (mode !== 'live') return;
  const labNodes = new Map((lab.state?.nodes ?? []).map((x) => [x.id, x]));
  drawPicture(
    $('picture'),
    nodeOrder().map((id) => {
      const n = nodes.get(id);
      const s = n.reachable ? n.status : null;
      const ln = labNodes.get(id);
      return {
        id,
        role: liveRole(n),
        reachable: n.reachable && s !== null,
        term: s?.term,
        lastIndex: s?.lastIndex,
        commitIndex: s?.commitIndex,
        appliedIndex: s?.appliedIndex,
        ...(ln ? { proc: ln.process, net: ln.net } : {}),
      };
    }),
  );
  drawProgress();
}

function drawProgress() {
  const leader = [...nodes.values()].find((n) => n.reachable && n.status && n.status.role === 'leader');
  const box = $('progress');
  if (!leader) {
    box.innerHTML = '<p class="muted">no leader visible</p>';
    return;
  }
  const rows = Object.entries(leader.status.progress ?? {})
    .filter(([id]) => id !== leader.id)
    .map(([id, p]) =>
      el(
        'tr',
        { dataset: { follower: id, lag: String(p.lag) } },
        ...[id, p.match, p.next, p.lag, p.state, p.recentActive ? 'yes' : 'no'].map((v) => el('td', { textContent: String(v) })),
      ),
    );
  const head = el('tr', {}, ...['follower', 'match', 'next', 'lag', 'state', 'active'].map((h) => el('th', { textContent: h })));
  box.replaceChildren(
    el('h2', { textContent: `Replication as ${leader.id} (leader) sees it` }),
    el('table', {}, el('thead', {}, head), el('tbody', {}, ...rows)),
  );
}

// ---------- recording ----------

function record(kind, item) {
  if (kind === 'event') recording.events.push(item);
  else recording.statuses.push(item);
  const n = recording.events.length + recording.statuses.length;
  if (n >= MAX_RECORDED) stopRecording(`stopped at ${MAX_RECORDED} items`);
}

function startRecording() {
  recording = { startedAt: browserNow(), events: [], statuses: [] };
  $('record').dataset.recording = 'true';
  $('record').textContent = 'Stop recording (0 events)';
}

function stopRecording(why = '') {
  const r = recording;
  recording = null;
  $('record').dataset.recording = 'false';
  $('record').textContent = 'Record';
  // The lab's actions while recording are events like the others (harness column).
  lastRecording = makeRecording({
    source: 'live',
    title: `live recording from ${selfId}, ${new Date(r.startedAt).toLocaleString()}${why ? ` (${why})` : ''}`,
    nodes: nodeOrder(),
    events: r.events,
    statuses: r.statuses,
    faults: [],
    violation: null,
    notes: [],
  });
  const blob = new Blob([JSON.stringify(lastRecording)], { type: 'application/json' });
  const a = el('a', {
    href: URL.createObjectURL(blob),
    download: `graftd-vizor-${new Date(r.startedAt).toISOString().replace(/[:.]/g, '-')}.json`,
  });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  $('replay-last').hidden = false;
}

// ---------- replay ----------

const player = new Player({ onCursor: showReplayAt });

async function openFiles(files) {
  const out = $('open-result');
  try {
    const list = await Promise.all(
      [...files].map(async (f) => {
        if (f.size > 512 * 1024 * 1024) throw new Error(`${f.name} is larger than 512 MiB`);
        return { name: f.webkitRelativePath || f.name, text: await f.text() };
      }),
    );
    let rec;
    if (isChaosRun(list)) rec = chaosRunToRecording(list);
    else if (list.length === 1) rec = parseRecording(list[0].text);
    else
      throw new Error(
        'choose one recording (.json) or the files of one chaos run directory (history.jsonl, n*.log, report.json, failing-*.jsonl)',
      );
    out.textContent = '';
    enterReplay(rec);
  } catch (err) {
    out.textContent = `cannot open: ${err.message}`;
  }
}

function enterReplay(rec) {
  mode = 'replay';
  replayRec = rec;
  document.body.dataset.mode = 'replay';
  if (pollTimer !== null) clearInterval(pollTimer);
  for (const n of nodes.values()) if (n.ws) n.ws.close();
  $('stream-state').textContent = 'replay (live streams closed)';
  $('lab-panel').hidden = true;
  $('kv-form').hidden = true;
  $('progress').replaceChildren();
  if (rec.violation) {
    const bad = new Set(rec.violation.ids);
    for (const e of rec.events) if (bad.has(e.id)) e.bad = true;
  }
  replayShown = { t: -1, upto: 0 };
  deriver = new StateDeriver(rec);
  shownRecentAt = -1;
  rebuildColumns();
  player.load(rec);
}

function showReplayAt(t) {
  const rec = replayRec;
  const upto = upperBound(rec.events, t);
  if (t >= replayShown.t && upto - replayShown.upto <= MAX_ROWS) {
    for (let i = replayShown.upto; i < upto; i++) {
      const e = rec.events[i];
      table.insert(e);
      if (player.playing && e.kind === 'send' && e.to && !(e.rpc === 'Heartbeat' && $('hide-heartbeats').checked))
        launch($('picture'), rec.nodes, e.from, e.to, e.rpc, e.resp);
    }
  } else {
    table.rebuild(rec.events, upto);
  }
  replayShown = { t, upto };
  $('counts').textContent = `event ${upto} of ${rec.events.length}`;
  drawPicture($('picture'), deriver.at(upto, t));
  if (upto !== shownRecentAt) {
    shownRecentAt = upto;
    recentBefore(rec.events, upto);
  }
}

// ---------- key form ----------

async function writeKey(ev) {
  ev.preventDefault();
  const key = $('kv-key').value;
  const value = $('kv-value').value;
  const out = $('kv-result');
  out.textContent = 'writing…';
  try {
    const r = await fetchJson('/key', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ [key]: value }),
    });
    out.textContent = r.status === 200 ? `wrote ${key}=${value}` : `error ${r.status}: ${r.body?.error ?? ''}`;
    out.dataset.status = String(r.status);
  } catch (err) {
    out.textContent = `request failed: ${err}`;
  }
}

async function readKey() {
  const key = $('kv-key').value;
  const out = $('kv-result');
  try {
    const r = await fetchJson(`/key/${encodeURIComponent(key)}`);
    out.textContent = r.status === 200 ? `read ${key}=${r.body[key]}` : `error ${r.status}: ${r.body?.error ?? ''}`;
    out.dataset.status = String(r.status);
  } catch (err) {
    out.textContent = `request failed: ${err}`;
  }
}

// ---------- start ----------

const lab = new LabPanel({
  fetchJson,
  onLog: onLabLog,
  selfId: () => selfId,
  electionHint: () => {
    const terms = [...nodes.values()].filter((n) => n.reachable && n.status).map((n) => n.status.term);
    const leader = [...nodes.values()].find((n) => n.reachable && n.status?.role === 'leader');
    return { term: Math.max(0, ...terms), leader: leader?.id ?? '' };
  },
});

$('login-form').addEventListener('submit', onLogin);
$('logout').addEventListener('click', onLogout);
$('kv-form').addEventListener('submit', writeKey);
$('kv-read').addEventListener('click', readKey);
$('hide-heartbeats').addEventListener('change', refilter);
$('pause').addEventListener('click', () => {
  paused = !paused;
  $('pause').textContent = paused ? 'Resume' : 'Pause';
});
$('clear').addEventListener('click', () => {
  table.clear();
  kept = [];
  eventCount = 0;
  droppedCount = 0;
  $('counts').textContent = '';
});
$('record').addEventListener('click', () => (recording ? stopRecording() : startRecording()));
$('open-files').addEventListener('change', (ev) => openFiles(ev.target.files));
$('open-dir').addEventListener('change', (ev) => openFiles(ev.target.files));
$('replay-last').addEventListener('click', () => lastRecording && enterReplay(lastRecording));
$('replay-exit').addEventListener('click', () => location.reload());
$('guide-sections').replaceChildren(
  ...Object.values(SECTIONS).map((s) => el('li', {}, el('a', { href: s.href, target: '_blank', rel: 'noopener', textContent: s.label }))),
);
onSelect(null);
buildTypeFilters();
pollStatus();
pollTimer = setInterval(pollStatus, STATUS_POLL_MS);
setInterval(releaseEvents, RELEASE_MS);
