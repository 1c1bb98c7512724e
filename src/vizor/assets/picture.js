// graftd vizor: the cluster picture — one circle per node (role, term, indexes, lab state),
// messages flying between them, and the arrow of the selected table row.

import { RPC_COLOURS, svg } from './vizor.js?part=util';

const MAX_FLYING = 150;
const FLIGHT_MS = 450;
const flying = [];

export function positions(ids) {
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

function layer(root, id) {
  return root.querySelector(`#${id}`) ?? root.appendChild(svg('g', { id }));
}

/**
 * cards: [{ id, role, reachable, term, lastIndex, commitIndex, appliedIndex, proc, net }]; role
 * 'unknown' when nothing is known. proc/net come from the lab (or a replay) and may be absent.
 */
export function drawPicture(root, cards) {
  if (!root.querySelector('defs')) {
    const defs = root.appendChild(svg('defs', {}));
    const marker = defs.appendChild(
      svg('marker', {
        id: 'arrow-head',
        viewBox: '0 0 10 10',
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: 'auto-start-reverse',
      }),
    );
    marker.appendChild(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: 'context-stroke' }));
  }
  const nodesLayer = layer(root, 'nodes-layer');
  layer(root, 'arrow-layer');
  layer(root, 'msgs-layer');
  const pos = positions(cards.map((c) => c.id));
  nodesLayer.replaceChildren();
  for (const c of cards) {
    const p = pos.get(c.id);
    const g = svg('g', {
      class: 'node-card',
      'data-node': c.id,
      'data-role': c.role,
      'data-reachable': String(c.reachable),
      transform: `translate(${p.x},${p.y})`,
    });
    if (c.proc) g.setAttribute('data-process', c.proc);
    if (c.net) g.setAttribute('data-net', c.net);
    g.appendChild(svg('circle', { class: 'node-circle', r: 58 }));
    g.appendChild(svg('text', { class: 'name', y: -24 }, c.id));
    if (c.role === 'leader') g.appendChild(svg('text', { class: 'crown', y: -66 }, '★ leader'));
    if (c.reachable && c.term !== undefined) {
      g.appendChild(svg('text', { y: -2 }, `${c.role} · term ${c.term}`));
      if (c.lastIndex !== undefined) g.appendChild(svg('text', { y: 14 }, `last ${c.lastIndex}`));
      if (c.commitIndex !== undefined) g.appendChild(svg('text', { y: 28 }, `commit ${c.commitIndex} · applied ${c.appliedIndex}`));
    } else {
      g.appendChild(svg('text', { class: 'down', y: 6 }, c.proc === 'stopped' ? 'stopped' : c.proc === 'dead' ? 'dead' : 'unreachable'));
    }
    const badges = [];
    if (c.proc === 'stopped') badges.push('STOPPED');
    if (c.proc === 'dead') badges.push('KILLED');
    if (c.net === 'isolated') badges.push('ISOLATED');
    if (c.net === 'slow') badges.push('SLOW LINK');
    if (badges.length > 0) g.appendChild(svg('text', { class: 'badge', y: 46 }, badges.join(' ')));
    nodesLayer.appendChild(g);
  }
}

/** A dot flying from `from` to `to` (a message on the wire). */
export function launch(root, ids, from, to, rpc, resp) {
  if (flying.length >= MAX_FLYING || document.hidden) return;
  const pos = positions(ids);
  const a = pos.get(from);
  const b = pos.get(to);
  if (!a || !b) return;
  const dot = svg('circle', { class: 'msg-dot', r: resp ? 3 : 5, fill: RPC_COLOURS[rpc] ?? '#fff', cx: a.x, cy: a.y });
  layer(root, 'msgs-layer').appendChild(dot);
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

/** The arrow of the selected message (null clears it). */
export function showArrow(root, ids, msg) {
  const arrows = layer(root, 'arrow-layer');
  arrows.replaceChildren();
  if (!msg) return;
  const pos = positions(ids);
  const a = pos.get(msg.from);
  const b = pos.get(msg.to);
  if (!a || !b) return;
  // Stop at the circles' edges.
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const k = 60 / len;
  arrows.appendChild(
    svg('line', {
      class: 'msg-arrow',
      'data-from': msg.from,
      'data-to': msg.to,
      x1: a.x + dx * k,
      y1: a.y + dy * k,
      x2: b.x - dx * k,
      y2: b.y - dy * k,
      stroke: RPC_COLOURS[msg.rpc] ?? '#fff',
      'marker-end': 'url(#arrow-head)',
    }),
  );
}
