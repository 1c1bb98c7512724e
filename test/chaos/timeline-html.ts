/**
 * A self-contained HTML timeline of a chaos run: one lane per client, one bar per operation
 * (call to completion), fault windows shaded across all lanes, the minimal failing sub-history
 * outlined in red. A key filter narrows the view to one key.
 *
 * Why HTML with no external resources: it is an artifact attached to a failing run, opened
 * from disk or a CI download, possibly years later; inline CSS and a few lines of inline
 * script keep it working anywhere.
 */
import type { KeyResult } from '../../src/check/checker.ts';
import { describeOp } from '../../src/check/format.ts';
import type { HistoryEvent } from '../../src/check/history.ts';
import type { FaultWindow } from './recorder.ts';

/** What to draw. */
export interface TimelineInput {
  readonly title: string;
  readonly events: readonly HistoryEvent[];
  readonly faults: readonly FaultWindow[];
  /** Failing keys; their minimal failing sub-histories are outlined. */
  readonly failing: readonly KeyResult[];
}

interface Bar {
  readonly process: number;
  readonly op: HistoryEvent['op'];
  readonly key: string;
  readonly input: string | null;
  readonly result: string | null;
  readonly type: 'ok' | 'fail' | 'info' | 'open';
  readonly start: number;
  readonly end: number;
  readonly final: boolean;
  readonly node: string;
  readonly error: string;
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Pair events into bars (failed and unknown operations included, unlike the checker's pairing). */
function bars(events: readonly HistoryEvent[]): Bar[] {
  const open = new Map<number, HistoryEvent>();
  const out: Bar[] = [];
  const end = events.length > 0 ? events[events.length - 1]!.time : 0;
  const push = (inv: HistoryEvent, done: HistoryEvent | undefined): void => {
    out.push({
      process: inv.process,
      op: inv.op,
      key: inv.key,
      input: inv.value,
      result: done?.value ?? null,
      type: done === undefined ? 'open' : (done.type as Bar['type']),
      start: inv.time,
      end: done?.time ?? end,
      final: inv.final === true,
      node: inv.node ?? '',
      error: done?.error ?? '',
    });
  };
  for (const e of events) {
    if (e.type === 'invoke') open.set(e.process, e);
    else {
      const inv = open.get(e.process);
      if (inv !== undefined) push(inv, e);
      open.delete(e.process);
    }
  }
  for (const inv of open.values()) push(inv, undefined);
  return out;
}

/** Render the timeline page. */
export function renderTimeline(input: TimelineInput): string {
  const all = bars(input.events);
  const totalMs = Math.max(1, ...all.map((b) => b.end), ...input.faults.map((f) => (Number.isFinite(f.end) ? f.end : f.start)));
  const pxPerMs = Math.min(0.5, Math.max(0.02, 20000 / totalMs));
  const x = (t: number): number => Math.round(t * pxPerMs * 10) / 10;
  const processes = [...new Set(all.map((b) => b.process))].sort((a, b) => a - b);
  const lane = new Map(processes.map((p, i) => [p, i]));
  const laneH = 22;
  const top = 40;
  const height = top + processes.length * laneH + 10;
  const width = x(totalMs) + 40;
  const highlighted = new Set<string>();
  for (const k of input.failing) for (const o of k.failing) highlighted.add(`${o.process}@${o.call}`);
  const keys = [...new Set(all.map((b) => b.key))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const firstFailing = input.failing[0]?.key ?? '';

  const faultDivs = input.faults
    .map((f) => {
      const end = Number.isFinite(f.end) ? f.end : totalMs;
      return `<div class="fault" style="left:${x(f.start)}px;width:${Math.max(2, x(end) - x(f.start))}px;height:${height}px" title="${escapeHtml(`${f.name}: ${f.detail} [${f.start.toFixed(0)}–${end.toFixed(0)} ms]`)}"><span>${escapeHtml(f.name)}</span></div>`;
    })
    .join('\n');
  const laneLabels = processes
    .map((p) => `<div class="label" style="top:${top + lane.get(p)! * laneH + 3}px">${p >= 1_000_000 ? 'final' : `c${p}`}</div>`)
    .join('\n');
  const tickEveryMs = totalMs > 120_000 ? 10_000 : totalMs > 20_000 ? 1000 : totalMs > 2000 ? 500 : 100;
  const ticks: string[] = [];
  for (let t = 0; t <= totalMs; t += tickEveryMs) {
    ticks.push(
      `<div class="tick" style="left:${x(t)}px;height:${height}px"><span>${t % 1000 === 0 ? `${t / 1000}s` : `${t}ms`}</span></div>`,
    );
  }
  const opDivs = all
    .map((b) => {
      const what =
        b.op === 'read'
          ? `read(${b.key}) → ${b.type === 'ok' ? (b.result === null ? 'absent' : JSON.stringify(b.result)) : b.type}`
          : b.op === 'write'
            ? `write(${b.key}, ${JSON.stringify(b.input)})`
            : `delete(${b.key})`;
      const tip = `c${b.process} ${what} ${b.type}${b.error === '' ? '' : ` (${b.error})`} via ${b.node} [${b.start.toFixed(1)}–${b.end.toFixed(1)} ms]${b.final ? ' final read' : ''}`;
      const cls = `op ${b.type} ${b.op}${highlighted.has(`${b.process}@${b.start}`) ? ' bad' : ''}`;
      const label =
        b.op === 'read' ? (b.type === 'ok' ? (b.result === null ? '∅' : b.result) : '') : b.op === 'write' ? `w ${b.input}` : 'del';
      return `<div class="${cls}" data-key="${escapeHtml(b.key)}" style="left:${x(b.start)}px;width:${Math.max(2, x(b.end) - x(b.start))}px;top:${top + lane.get(b.process)! * laneH + 3}px" title="${escapeHtml(tip)}">${escapeHtml(label)}</div>`;
    })
    .join('\n');
  const problems = input.failing
    .map(
      (k) =>
        `<h3>${escapeHtml(k.key)}</h3><pre>${escapeHtml(k.message)}</pre><p>minimal failing sub-history:</p><pre>${escapeHtml(
          [...k.failing]
            .sort((a, b) => a.call - b.call)
            .map(describeOp)
            .join('\n'),
        )}</pre>`,
    )
    .join('\n');
  const options = [
    '<option value="">all keys</option>',
    ...keys.map((k) => `<option${k === firstFailing ? ' selected' : ''}>${escapeHtml(k)}</option>`),
  ].join('');

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body{font:13px system-ui,sans-serif;margin:12px;color:#222}
#wrap{overflow-x:auto;border:1px solid #ccc;background:#fff}
#inner{display:flex;width:${width + 48}px}
#labels{position:sticky;left:0;width:48px;height:${height}px;background:#fff;z-index:5;border-right:1px solid #ccc;flex:none}
#canvas{position:relative;width:${width}px;height:${height}px;flex:none}
.label{position:absolute;right:4px;font-size:11px;color:#555}
.tick{position:absolute;top:0;border-left:1px dotted #ddd}.tick span{position:absolute;top:24px;left:2px;font-size:10px;color:#999}
.fault{position:absolute;top:0;background:rgba(255,170,0,.16);border-left:1px solid rgba(200,120,0,.6)}
.fault span{font-size:10px;color:#a60;white-space:nowrap;position:absolute;top:2px;left:2px}
.op{position:absolute;height:15px;font-size:10px;line-height:15px;overflow:hidden;white-space:nowrap;border-radius:2px;box-sizing:border-box;padding:0 2px}
.op.ok.read{background:#9ecae1}.op.ok.write{background:#74c476}.op.ok.delete{background:#bcbddc}
.op.fail{background:#ddd;color:#888}.op.info,.op.open{background:repeating-linear-gradient(45deg,#fdd0a2,#fdd0a2 4px,#fee6ce 4px,#fee6ce 8px)}
.op.bad{outline:2px solid #d00;z-index:2}.hidden{display:none}
pre{background:#f6f6f6;padding:6px;white-space:pre-wrap}
</style></head><body>
<h2>${escapeHtml(input.title)}</h2>
<p>One lane per client; bars run from invocation to completion (green write, blue read, purple delete, grey failed, hatched unknown outcome);
shaded columns are fault windows; red outlines mark the minimal failing sub-history. Hover for details.
Key: <select id="key">${options}</select></p>
<div id="wrap"><div id="inner"><div id="labels">
${laneLabels}
</div><div id="canvas">
${ticks.join('\n')}
${faultDivs}
${opDivs}
</div></div></div>
${problems === '' ? '<p>No failing key.</p>' : `<h2>Failures</h2>${problems}`}
<script>
const sel=document.getElementById('key');
function apply(){const k=sel.value;for(const el of document.querySelectorAll('.op'))el.classList.toggle('hidden',k!==''&&el.dataset.key!==k);
const bad=document.querySelector('.op.bad:not(.hidden)');if(bad)bad.scrollIntoView({block:'nearest',inline:'center'});}
sel.addEventListener('change',apply);apply();
</script>
</body></html>
`;
}
