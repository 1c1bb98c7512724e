/**
 * A bounded ring of the simulator's recent events, printed with a violation.
 *
 * Why bounded: a run produces thousands of events; only the last few explain a failure, and
 * the full story is one `--seed S --trace` replay away.
 */

/** Keeps the last `capacity` lines; optionally echoes every line (for `--trace`). */
export class TraceRing {
  private readonly lines: string[] = [];
  private next = 0;

  constructor(
    private readonly capacity: number,
    private readonly echo: ((line: string) => void) | null = null,
  ) {}

  /** Whether callers should build verbose lines (message-level events). */
  get verbose(): boolean {
    return this.echo !== null;
  }

  add(timeMs: number, text: string): void {
    const line = `${String(timeMs).padStart(6)}ms ${text}`;
    if (this.echo !== null) this.echo(line);
    if (this.lines.length < this.capacity) this.lines.push(line);
    else {
      this.lines[this.next] = line;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** The kept lines, oldest first. */
  snapshot(): string[] {
    return [...this.lines.slice(this.next), ...this.lines.slice(0, this.next)];
  }
}
