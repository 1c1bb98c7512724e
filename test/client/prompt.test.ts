/**
 * The terminal password prompt (src/cli/prompt.ts) on a scripted stand-in for a TTY: echo is
 * off (raw mode on while reading, off after, nothing typed is written), backspace edits,
 * Ctrl-C cancels, and stdin reading is bounded.
 */
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { PromptCancelled, readAll, readSecretFromTty } from '../../src/cli/prompt.ts';

function fakeTty(): PassThrough & { setRawMode(mode: boolean): void; modes: boolean[] } {
  const input = new PassThrough() as PassThrough & { setRawMode(mode: boolean): void; modes: boolean[] };
  input.modes = [];
  input.setRawMode = (mode: boolean) => {
    input.modes.push(mode);
  };
  return input;
}

test('the prompt reads one line in raw mode without echoing it; backspace edits', async () => {
  const input = fakeTty();
  let written = '';
  const pending = readSecretFromTty('Password for alice: ', input, { write: (text: string) => (written += text) });
  input.write('s3x');
  input.write('\u007fcret\rignored');
  assert.equal(await pending, 's3cret');
  assert.deepEqual(input.modes, [true, false]);
  assert.equal(written, 'Password for alice: \n', 'only the prompt and a newline, never the password');
});

test('Ctrl-C at the prompt cancels and restores the terminal', async () => {
  const input = fakeTty();
  const pending = readSecretFromTty('Password: ', input, { write: () => true });
  input.write('abc\u0003');
  await assert.rejects(pending, PromptCancelled);
  assert.deepEqual(input.modes, [true, false]);
});

test('readAll returns stdin, and refuses more than 64 KiB', async () => {
  assert.equal(await readAll(Readable.from([Buffer.from('pw'), Buffer.from('\n')])), 'pw\n');
  await assert.rejects(readAll(Readable.from([Buffer.alloc(70 * 1024)])), /more than 65536 bytes/);
});
