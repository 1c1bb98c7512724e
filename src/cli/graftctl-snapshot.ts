/**
 * `graftctl snapshot status FILE`: verify a backup without restoring it (like `etcdctl snapshot
 * status`).
 *
 * Why: a backup is only known to be good once it has been read back. This reads the whole file
 * (metadata header, every record, both checksums) locally, contacts no cluster, writes nothing,
 * and prints what a restore would get: keys, index, term, members.
 */
import type { Command } from 'commander';
import type { VerifiedBackup } from '../client/backup-format.ts';
import { GraftdError } from '../errors.ts';
import { CommandFailure, formatTable, type GraftctlIo, printJson } from './graftctl-output.ts';

/** Register `snapshot status` on `program`. */
export function registerSnapshotCommands(program: Command, io: GraftctlIo, json: () => boolean): void {
  const snapshot = program.command('snapshot').description('inspect backup files (local; contacts no cluster)');
  snapshot
    .command('status')
    .description('verify a backup file without restoring it: checksums, keys, index, term, members')
    .argument('<file>', 'a file written by graftctl backup (or GET /snapshot)')
    .addHelpText(
      'after',
      '\nExits 0 when every checksum matches, 1 when the file is unreadable or corrupt.\n\nExample:\n  $ graftctl snapshot status graftd-backup.bin\n',
    )
    .action(async (file: string) => {
      let verified: VerifiedBackup;
      try {
        // Loaded here: the backup format brings node:crypto and node:zlib, which other commands do not need.
        const { verifyBackupFile } = await import('../client/backup-format.ts');
        verified = await verifyBackupFile(file);
      } catch (err) {
        if (err instanceof GraftdError) throw new CommandFailure(err.message, err.code, 1);
        const code = (err as NodeJS.ErrnoException).code ?? 'GRAFTCTL_FILE';
        throw new CommandFailure(`cannot read ${file}: ${code}`, 'GRAFTCTL_FILE', 1);
      }
      const meta = verified.meta;
      const format =
        meta === null
          ? 'bare key-value snapshot (GET /snapshot): no metadata'
          : 'graftctl backup v1 (metadata header + key-value snapshot)';
      const summary = {
        file,
        format: meta === null ? 'kv' : 'graftctl-backup-v1',
        checksum: 'ok',
        sha256: verified.sha256,
        bytes: verified.bytes,
        keys: verified.store.size,
        clusterId: meta?.clusterId ?? null,
        createdAt: meta?.createdAt ?? null,
        leaderId: meta?.leaderId ?? null,
        term: meta?.term ?? null,
        index: meta?.index ?? null,
        graftdVersion: meta === null || meta.graftdVersion === '' ? null : meta.graftdVersion,
        members: meta?.members ?? null,
      };
      if (json()) {
        printJson(io, summary);
        return;
      }
      const dash = (v: string | number | null): string => (v === null ? '-' : String(v));
      const lines: [string, string][] = [
        ['FILE', file],
        ['FORMAT', format],
        ['CHECKSUM', meta === null ? 'OK (data CRC-32)' : 'OK (header and data CRC-32)'],
        ['SHA256', verified.sha256],
        ['SIZE', `${verified.bytes} bytes`],
        ['KEYS', String(verified.store.size)],
        ['CLUSTER', dash(summary.clusterId)],
        ['TAKEN', dash(summary.createdAt)],
        ['LEADER', dash(summary.leaderId)],
        ['TERM', dash(summary.term)],
        ['INDEX', meta === null ? '-' : `${meta.index} (the data holds at least every entry up to it)`],
        ['VERSION', dash(summary.graftdVersion)],
      ];
      const width = Math.max(...lines.map(([k]) => k.length));
      io.stdout(lines.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n');
      if (meta !== null) {
        io.stdout(
          `\n${formatTable(
            ['MEMBER', 'RAFT ADDR', 'HTTP ADDR', 'KIND'],
            meta.members.map((m) => [m.id, m.raftAddr, m.httpAddr === '' ? '-' : m.httpAddr, m.voter ? 'voter' : 'learner']),
          )}`,
        );
      }
    });
}
