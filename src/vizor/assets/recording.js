// graftd vizor: recordings — the file the "record" button saves, and the conversion of a chaos
// run's directory (test/chaos: history.jsonl, n<i>.log, report.json, failing-<key>.jsonl,
// run.log) into the same shape. No DOM: node's test runner imports this file too.
//
// Why one shape for both: the replay only knows "events on one clock, per-node status snapshots,
// fault windows, maybe a violation"; where they came from does not matter to it.

export const FORMAT = 'graftd-vizor-recording';
export const VERSION = 1;
/** The pseudo-node of client operations, faults and lab actions (its own column). */
export const HARNESS = '~harness';
/** Largest recording the page accepts (events). */
export const MAX_EVENTS = 500000;

/**
 * A recording: { format, version, source: 'live'|'chaos', title, nodes: [id], events: [event with
 * st (ms, one clock) and id], statuses: [{ st, node, status }], faults: [{ name, detail, start,
 * end }] (ms, same clock), violation: { st, key, message, ids: [event id] } | null, notes: [text] }.
 */
export function makeRecording(r) {
  return {
    format: FORMAT,
    version: VERSION,
    source: r.source,
    title: r.title,
    nodes: [...r.nodes],
    events: [...r.events].sort((a, b) => a.st - b.st || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) || a.seq - b.seq),
    statuses: r.statuses ?? [],
    faults: r.faults ?? [],
    violation: r.violation ?? null,
    notes: r.notes ?? [],
  };
}

/** Parse and check a recording file's text; throws an Error naming the problem. */
export function parseRecording(text) {
  let o;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new Error(`not a vizor recording (invalid JSON: ${err.message})`);
  }
  if (!o || o.format !== FORMAT) throw new Error('not a vizor recording (no "format": "graftd-vizor-recording")');
  if (o.version !== VERSION) throw new Error(`recording version ${o.version} is not supported (this page reads version ${VERSION})`);
  if (!Array.isArray(o.events) || !Array.isArray(o.nodes)) throw new Error('recording without events or nodes');
  if (o.events.length > MAX_EVENTS) throw new Error(`recording too large: ${o.events.length} events (at most ${MAX_EVENTS})`);
  for (const e of o.events)
    if (typeof e.st !== 'number' || typeof e.node !== 'string') throw new Error('recording event without st or node');
  return makeRecording(o);
}

/** True when `files` ([{ name, text }], names may carry directories) look like a chaos run. */
export function isChaosRun(files) {
  return files.some((f) => base(f.name) === 'history.jsonl');
}

function base(name) {
  return name.split(/[\\/]/).pop();
}

function jsonLines(text, what) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    try {
      out.push(JSON.parse(line));
    } catch {
      // A node killed mid-write leaves a torn last line; anything else is worth saying.
      if (i < lines.length - 2) throw new Error(`${what}: line ${i + 1} is not JSON`);
    }
  }
  return out;
}

/** One node log line (pino JSON) as a timeline event, or null when not shown. */
export function logLineEvent(node, o, seq) {
  const t = typeof o.time === 'number' ? o.time : Date.parse(o.time);
  if (!Number.isFinite(t)) return null;
  const e = { node, seq, st: t, t, id: `${node}:log${seq}` };
  const msg = String(o.msg ?? '');
  if (typeof o.role === 'string' && 'previous' in o)
    return { ...e, kind: 'role', role: o.role, term: o.term, leader: o.leader || '', detail: o.reason || msg };
  if (typeof o.candidate === 'string' && typeof o.granted === 'boolean')
    return {
      ...e,
      kind: 'vote',
      term: o.term,
      to: o.candidate,
      success: o.granted,
      rpc: o.pre ? 'PreVote' : 'RequestVote',
      ...(o.reason ? { detail: o.reason } : {}),
    };
  if (msg === 'node started') return { ...e, kind: 'process', detail: `started (applied ${o.applied ?? 0})` };
  if (msg === 'node stopped') return { ...e, kind: 'process', detail: 'stopped gracefully' };
  if (msg === 'installed snapshot from the leader') return { ...e, kind: 'snapshot', index: o.index, detail: 'installed' };
  if (msg === 'sending snapshot') return { ...e, kind: 'snapshot', index: o.index, detail: `send ${o.to}` };
  if (msg === 'received snapshot') return { ...e, kind: 'snapshot', index: o.index, detail: 'received' };
  if (msg === 'request') return null;
  if (typeof o.level === 'number' && o.level >= 40) return { ...e, kind: 'log', detail: `${o.level >= 50 ? 'error' : 'warning'}: ${msg}` };
  if (/transferring leadership|leadership transferred|member removed|member added|promoting|caught up/.test(msg))
    return { ...e, kind: 'log', detail: msg };
  return null;
}

function describeClient(h) {
  const who = h.final ? 'final read' : `c${h.process}`;
  const what = h.op === 'read' ? `read ${h.key}` : h.op === 'write' ? `write ${h.key}=${h.value}` : `delete ${h.key}`;
  if (h.type === 'invoke') return `${who} ${what} →`;
  const result = h.op === 'read' && h.type === 'ok' ? ` = ${h.value === null ? '(absent)' : h.value}` : '';
  return `${who} ${what} ${h.type}${result}${h.error ? ` (${h.error})` : ''}`;
}

/**
 * Convert a chaos run's files into a recording. Times: history and fault windows are ms since the
 * run's start; report.json's startedAtMs puts them on the node logs' clock (without it the first
 * node log line stands in for the start, and a note says the alignment is approximate).
 */
export function chaosRunToRecording(files) {
  const byName = new Map(files.map((f) => [base(f.name), f.text]));
  const history = jsonLines(byName.get('history.jsonl') ?? '', 'history.jsonl');
  const report = byName.has('report.json') ? JSON.parse(byName.get('report.json')) : null;
  const notes = [];
  const events = [];
  const nodes = new Set();
  for (const [name, text] of byName) {
    const m = /^(n\d+)\.log$/.exec(name);
    if (m === null) continue;
    nodes.add(m[1]);
    let seq = 0;
    for (const o of jsonLines(text, name)) {
      const e = logLineEvent(m[1], o, ++seq);
      if (e !== null) events.push(e);
    }
  }
  let t0 = report && typeof report.startedAtMs === 'number' ? report.startedAtMs : undefined;
  if (t0 === undefined) {
    t0 = events.length > 0 ? Math.min(...events.map((e) => e.st)) : 0;
    notes.push('report.json has no startedAtMs: client operations are placed relative to the first node log line (approximate)');
  }
  let seq = 0;
  for (const h of history) {
    seq += 1;
    events.push({
      node: HARNESS,
      seq,
      id: `${HARNESS}:h${seq}`,
      st: t0 + h.time,
      t: t0 + h.time,
      kind: 'client',
      op: h.op,
      key: h.key,
      process: h.process,
      ht: h.time,
      type: h.type,
      via: h.node ?? '',
      success: h.type === 'ok' ? true : h.type === 'fail' ? false : undefined,
      detail: describeClient(h),
    });
  }
  const faults = (report?.faults ?? []).map((f) => ({
    name: f.name,
    detail: f.detail,
    start: t0 + f.start,
    end: Number.isFinite(f.end) && f.end !== null ? t0 + f.end : null,
  }));
  for (const f of faults) {
    seq += 1;
    events.push({ node: HARNESS, seq, id: `${HARNESS}:f${seq}`, st: f.start, t: f.start, kind: 'fault', detail: `${f.name}: ${f.detail}` });
    if (f.end !== null) {
      seq += 1;
      events.push({ node: HARNESS, seq, id: `${HARNESS}:f${seq}`, st: f.end, t: f.end, kind: 'fault', detail: `healed ${f.name}` });
    }
  }
  const violation = findViolation(byName, report, history, events, t0);
  const title = report
    ? `chaos run seed ${report.seed}, ${report.nodes} nodes — ${report.violations > 0 ? `${report.violations} violation(s)` : 'OK'}`
    : 'chaos run';
  return makeRecording({ source: 'chaos', title, nodes: [...nodes].sort(), events, faults, violation, notes });
}

/** Where the run went wrong: the end of the first failing key's minimal sub-history, its events marked. */
function findViolation(byName, report, history, events, t0) {
  const failingFiles = [...byName.keys()].filter((n) => /^failing-.+\.jsonl$/.test(n)).sort();
  const key = failingFiles.length > 0 ? failingFiles[0].slice('failing-'.length, -'.jsonl'.length) : undefined;
  if (key !== undefined) {
    const bad = jsonLines(byName.get(failingFiles[0]), failingFiles[0]);
    const marks = new Set(bad.map((h) => `${h.process}@${h.time}`));
    const ids = events.filter((e) => e.kind === 'client' && marks.has(`${e.process}@${e.ht}`)).map((e) => e.id);
    const end = Math.max(...bad.map((h) => h.time));
    const message = report?.keys?.find((k) => k.key === key)?.message ?? `key ${key} is not linearizable`;
    return { st: t0 + end, key, message: String(message).split('\n')[0], ids };
  }
  if (report && report.violations > 0) {
    const end = history.length > 0 ? history[history.length - 1].time : 0;
    const message = report.divergences?.[0] ?? report.error ?? 'violation';
    return { st: t0 + end, key: '', message, ids: [] };
  }
  return null;
}
