// graftd vizor: small helpers shared by the page's modules.

export const $ = (id) => document.getElementById(id);
const svgNs = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (and text). */
export function svg(tag, attrs, text) {
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** An HTML element with properties and children. */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'class') e.className = v;
    else e[k] = v;
  }
  e.append(...children);
  return e;
}

/** The browser's clock in the nodes' unit (epoch ms, sub-millisecond). */
export function browserNow() {
  return performance.timeOrigin + performance.now();
}

/** HH:MM:SS.mmm of epoch ms (local time). */
export function fmtTime(ms) {
  const d = new Date(ms);
  return `${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** Colours of the RPCs (dots and arrows in the picture). */
export const RPC_COLOURS = {
  AppendEntries: '#4aa3ff',
  Heartbeat: '#56606b',
  ReadIndex: '#3fd1c7',
  RequestVote: '#f0a33c',
  PreVote: '#c9a65c',
  InstallSnapshot: '#b67cff',
  TimeoutNow: '#ff5d8f',
};
