/**
 * Reading secrets for graftctl: a password typed on the terminal without echo, or all of stdin.
 *
 * Why not readline: readline echoes what is typed (and keeps it in its history); a password
 * must not appear on the screen or in a scrollback. The terminal is put in raw mode for the
 * duration of one line and always restored, also on Ctrl-C. Both readers are bounded.
 */
import type { Readable } from 'node:stream';

/** Longest password accepted from the terminal, in characters. */
const MAX_SECRET_CHARS = 1024;
/** Longest stdin accepted for --password-stdin, in bytes. */
const MAX_STDIN_BYTES = 64 * 1024;

/** What {@link readSecretFromTty} needs of stdin (process.stdin when it is a TTY). */
interface RawInput extends Readable {
  setRawMode(mode: boolean): unknown;
}

/** Thrown when the user presses Ctrl-C or Ctrl-D at the prompt. */
export class PromptCancelled extends Error {
  readonly code = 'GRAFTCTL_CANCELLED';
  constructor() {
    super('cancelled at the password prompt');
    this.name = 'PromptCancelled';
  }
}

/**
 * Write `prompt` to `output` and read one line from the terminal `input` with echo off.
 * Backspace edits; Enter ends; Ctrl-C / Ctrl-D (on an empty line) reject with PromptCancelled.
 */
export function readSecretFromTty(prompt: string, input: RawInput, output: { write(text: string): unknown }): Promise<string> {
  return new Promise((resolve, reject) => {
    let secret = '';
    const finish = (err: Error | null): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (err === null) resolve(secret);
      else reject(err);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') {
          finish(null);
          return;
        }
        if (char === '\u0003' || (char === '\u0004' && secret === '')) {
          finish(new PromptCancelled());
          return;
        }
        if (char === '\u007f' || char === '\b') secret = [...secret].slice(0, -1).join('');
        else if (char >= ' ' && secret.length < MAX_SECRET_CHARS) secret += char;
      }
    };
    output.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}

/** All of `input` as UTF-8 (at most 64 KiB: a password, not a file). */
export async function readAll(input: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buffer.byteLength;
    if (bytes > MAX_STDIN_BYTES) throw new Error(`stdin holds more than ${MAX_STDIN_BYTES} bytes; expected one password`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
