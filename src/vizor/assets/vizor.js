// graftd vizor: connects to every member's /events stream and polls their status, then draws
// the cluster picture (roles, terms, indexes, messages in flight) and the vizor table (one
// column per node, one row per event). Plain browser JavaScript, no dependencies, so the page
// works offline from any node.

const MAX_ROWS = 600;
const MAX_FLYING = 150;
const STATUS_POLL_MS = 1000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;
const FLIGHT_MS = 450;
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
];

const $ = (id) => document.getElementById(id);
const svgNs = 'http://www.w3.org/2000/svg';

/** id -> { id, httpAddr, voter, status, reachable, ws, backoffMs, lastSeq } */
const nodes = new Map();
let selfId = '';
let paused = false;
const hiddenTypes = new Set();
const hiddenNodes = new Set();
const flying = [];
let eventCount = 0;
let droppedCount = 0;

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

function makeAuth(user, password, token) {
  if (token !== '') {
    return { header: `Bearer ${token}`, protocol: `graftd-auth.${base64url(`bearer:${token}`)}` };
  }
  return { header: `Basic ${base64(`${user}:${password}`)}`, protocol: `graftd-auth.${base64url(`${user}:${password}`)}` };
}

function base64url(text) {
  return base64(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
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

// ---------- membership and status ----------

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
  return { status: res.status, body };
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

async function pollStatus() {
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
    }
  } catch {
    $('served-by').textContent = `cannot reach ${location.host}`;
  }
  await Promise.all(
    [...nodes.values()].map(async (n) => {
      try {
        const r = await fetchJson(`/ui/members/${encodeURIComponent(n.id)}/status`);
        if (r.status === 200 && r.body) {
          n.status = r.body;
          setReachable(n, true);
        } else setReachable(n, false);
      } catch {
        setReachable(n, false);
      }
    }),
  );
  drawPicture();
  drawProgress();
}

function setReachable(n, reachable) {
  if (n.reachable === reachable) return;
  n.reachable = reachable;
  const th = document.querySelector(`#events-head th[data-node="${CSS.escape(n.id)}"]`);
  if (th) {
    th.dataset.reachable = String(reachable);
    th.textContent = reachable ? n.id : `${n.id} (unreachable)`;
  }
}

// ---------- event streams ----------

function connect(n) {
  if (n.httpAddr === '') return;
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
    if (frame.type !== 'events') return;
    if (frame.dropped > 0) droppedCount += frame.dropped;
    for (const e of frame.events) onEvent(n, e);
  };
  ws.onclose = () => {
    if (n.ws === ws) n.ws = null;
    updateStreamState();
    if (nodes.get(n.id) === n) {
      setReachable(n, false);
      drawPicture();
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
  const open = [...nodes.values()].filter((n) => n.ws && n.ws.readyState === WebSocket.OPEN).length;
  $('stream-state').textContent = `${open}/${nodes.size} event streams open`;
}

function typeOf(e) {
  return e.rpc && (e.kind === 'send' || e.kind === 'recv') ? e.rpc : e.kind;
}

function onEvent(n, e) {
  if (e.seq <= n.lastSeq) return; // replayed history after a reconnect
  n.lastSeq = e.seq;
  eventCount += 1;
  if (e.kind === 'role' && n.status) {
    n.status = { ...n.status, role: e.role, term: e.term, leaderId: e.leader };
    drawPicture();
  }
  if (e.kind === 'send' && e.to && !(e.rpc === 'Heartbeat' && $('hide-heartbeats').checked)) launch(e.from, e.to, e.rpc, e.resp);
  if (paused) return;
  addRow(n.id, e);
}

// ---------- vizor table ----------

function rebuildColumns() {
  const head = $('events-head');
  head.replaceChildren(Object.assign(document.createElement('th'), { className: 'time', textContent: 'time' }));
  for (const id of nodeOrder()) {
    const th = document.createElement('th');
    th.dataset.node = id;
    const n = nodes.get(id);
    th.dataset.reachable = String(n.reachable);
    th.textContent = n.reachable ? id : `${id} (unreachable)`;
    head.appendChild(th);
  }
  $('events-body').replaceChildren();
  rebuildNodeFilters();
  updateStreamState();
}

function describe(e) {
  switch (e.kind) {
    case 'send':
    case 'recv': {
      const arrow = e.kind === 'send' ? `→ ${e.to}` : `← ${e.from}`;
      const parts = [`${e.rpc}${e.resp ? 'Resp' : ''}`, arrow, `t${e.term}`];
      if (e.index !== undefined) parts.push(`i${e.index}`);
      if (e.entries) parts.push(`n=${e.entries}`);
      if (e.commit !== undefined) parts.push(`c${e.commit}`);
      if (e.success !== undefined) parts.push(e.success ? 'ok' : 'reject');
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
    default:
      return JSON.stringify(e);
  }
}

function visible(nodeId, e) {
  const type = typeOf(e);
  if (hiddenNodes.has(nodeId) || hiddenTypes.has(type)) return false;
  if (type === 'Heartbeat' && $('hide-heartbeats').checked) return false;
  return true;
}

function addRow(nodeId, e) {
  const tr = document.createElement('tr');
  tr.dataset.node = nodeId;
  tr.dataset.kind = e.kind;
  tr.dataset.type = typeOf(e);
  if (e.rpc) tr.dataset.rpc = e.rpc;
  if (e.entries !== undefined) tr.dataset.entries = String(e.entries);
  if (!visible(nodeId, e)) tr.hidden = true;
  const time = document.createElement('td');
  time.className = 'time';
  const d = new Date(e.t);
  time.textContent = `${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  tr.appendChild(time);
  for (const id of nodeOrder()) {
    const td = document.createElement('td');
    if (id === nodeId) {
      td.dataset.node = id;
      const span = document.createElement('span');
      span.className = `ev${e.success === false ? ' fail' : ''}`;
      span.dataset.kind = e.kind;
      if (e.rpc) span.dataset.rpc = e.rpc;
      span.textContent = describe(e);
      span.title = JSON.stringify(e);
      td.appendChild(span);
    }
    tr.appendChild(td);
  }
  const body = $('events-body');
  body.insertBefore(tr, body.firstChild);
  while (body.childElementCount > MAX_ROWS) body.lastElementChild.remove();
  $('counts').textContent = `${eventCount} events${droppedCount ? `, ${droppedCount} dropped by nodes (too fast)` : ''}`;
}

function refilter() {
  for (const tr of $('events-body').children) {
    const type = tr.dataset.type;
    tr.hidden = hiddenNodes.has(tr.dataset.node) || hiddenTypes.has(type) || (type === 'Heartbeat' && $('hide-heartbeats').checked);
  }
}

function checkbox(label, checked, onChange, data) {
  const l = document.createElement('label');
  const input = document.createElement('input');
  input.type = 'checkbox';
  input.checked = checked;
  Object.assign(input.dataset, data);
  input.addEventListener('change', () => onChange(input.checked));
  l.append(input, ` ${label}`);
  return l;
}

function buildTypeFilters() {
  const box = $('type-filters');
  const details = document.createElement('details');
  details.innerHTML = '<summary>types</summary>';
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
  box.replaceChildren(details);
}

function rebuildNodeFilters() {
  const box = $('node-filters');
  box.replaceChildren();
  for (const id of nodeOrder()) {
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

// ---------- cluster picture ----------

function positions() {
  const ids = nodeOrder();
  const cx = 260;
  const cy = 215;
  const r = ids.length <= 1 ? 0 : 135;
  const map = new Map();
  ids.forEach((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / ids.length;
    map.set(id, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) });
  });
  return map;
}

function svg(tag, attrs, text) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function roleOf(n) {
  if (!n.reachable || n.status === null) return 'unknown';
  if (n.status.role === 'follower' && n.status.members && n.status.members.some((m) => m.id === n.id && !m.voter)) return 'learner';
  return n.status.role;
}

function drawPicture() {
  const root = $('picture');
  const pos = positions();
  const layer = root.querySelector('#nodes-layer') ?? root.appendChild(svg('g', { id: 'nodes-layer' }));
  if (!root.querySelector('#msgs-layer')) root.appendChild(svg('g', { id: 'msgs-layer' }));
  layer.replaceChildren();
  for (const id of nodeOrder()) {
    const n = nodes.get(id);
    const p = pos.get(id);
    const s = n.status;
    const g = svg('g', {
      class: 'node-card',
      'data-node': id,
      'data-role': roleOf(n),
      'data-reachable': String(n.reachable),
      transform: `translate(${p.x},${p.y})`,
    });
    g.appendChild(svg('circle', { class: 'node-circle', r: 58 }));
    g.appendChild(svg('text', { class: 'name', y: -24 }, id));
    if (s && n.reachable) {
      if (s.role === 'leader') g.appendChild(svg('text', { class: 'crown', y: -66 }, '★ leader'));
      g.appendChild(svg('text', { y: -2 }, `${roleOf(n)} · term ${s.term}`));
      g.appendChild(svg('text', { y: 14 }, `last ${s.lastIndex}`));
      g.appendChild(svg('text', { y: 28 }, `commit ${s.commitIndex} · applied ${s.appliedIndex}`));
    } else {
      g.appendChild(svg('text', { class: 'down', y: 6 }, 'unreachable'));
    }
    layer.appendChild(g);
  }
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
    .map(
      ([id, p]) =>
        `<tr data-follower="${id}"><td>${id}</td><td>${p.match}</td><td>${p.next}</td><td>${p.lag}</td><td>${p.state}</td><td>${p.recentActive ? 'yes' : 'no'}</td></tr>`,
    )
    .join('');
  box.innerHTML = `<h2>Replication as ${leader.id} (leader) sees it</h2><table><thead><tr><th>follower</th><th>match</th><th>next</th><th>lag</th><th>state</th><th>active</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const RPC_COLOURS = {
  AppendEntries: '#4aa3ff',
  Heartbeat: '#56606b',
  ReadIndex: '#3fd1c7',
  RequestVote: '#f0a33c',
  PreVote: '#c9a65c',
  InstallSnapshot: '#b67cff',
  TimeoutNow: '#ff5d8f',
};

function launch(from, to, rpc, resp) {
  if (flying.length >= MAX_FLYING || document.hidden) return;
  const pos = positions();
  const a = pos.get(from);
  const b = pos.get(to);
  if (!a || !b) return;
  const dot = svg('circle', { class: 'msg-dot', r: resp ? 3 : 5, fill: RPC_COLOURS[rpc] ?? '#fff', cx: a.x, cy: a.y });
  $('msgs-layer')?.appendChild(dot);
  flying.push({ dot, a, b, start: performance.now() });
  if (flying.length === 1) requestAnimationFrame(animate);
}

function animate(now) {
  for (let i = flying.length - 1; i >= 0; i--) {
    const f = flying[i];
    const k = Math.min(1, (now - f.start) / FLIGHT_MS);
    f.dot.setAttribute('cx', String(f.a.x + (f.b.x - f.a.x) * k));
    f.dot.setAttribute('cy', String(f.a.y + (f.b.y - f.a.y) * k));
    if (k >= 1) {
      f.dot.remove();
      flying.splice(i, 1);
    }
  }
  if (flying.length > 0) requestAnimationFrame(animate);
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
  $('events-body').replaceChildren();
  eventCount = 0;
  droppedCount = 0;
  $('counts').textContent = '';
});
buildTypeFilters();
pollStatus();
setInterval(pollStatus, STATUS_POLL_MS);
