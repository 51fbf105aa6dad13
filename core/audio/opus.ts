/**
 * OGG Opus through opus-tools, which sox lacks on Debian 12 (its own opus handler only reads, and
 * is not built there): `opusenc` takes the WAV sox writes to its standard output, `opusdec` feeds
 * WAV to sox's standard input, so sox still does all the rest (rate, channels, levels, trimming).
 * Files are read, for checking and measuring, from their Ogg pages (ogg-opus.ts).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readBlocks } from './measure.ts';
import { OggOpusWalker, type OggOpusResult } from './ogg-opus.ts';
import type { PipeTool } from './sox.ts';

/** The Debian package that brings opusenc and opusdec. */
export const OPUS_PACKAGE = 'opus-tools';

/**
 * What opusenc aims at (VBR, kbit/s, all channels together): Opus codes wideband speech well at
 * 24 kbit/s — about 180 KB a minute, under half of 8 kHz µ-law's 64 kbit/s.
 */
export const OPUS_BITRATE_KBPS = 24;

export interface OpusTools {
  opusenc: string;
  opusdec: string;
}

/** Runs `--version` of both tools: their version, or why they cannot be used. */
export async function probeOpusTools(tools: OpusTools): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  const answers = await Promise.all([tools.opusenc, tools.opusdec].map(versionOf));
  const failed = answers.find((a) => !a.ok);
  return failed ?? (answers[0] as { ok: true; version: string });
}

function versionOf(bin: string): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.once('error', (err: NodeJS.ErrnoException) => {
      resolve({ ok: false, reason: err.code === 'ENOENT' ? `"${bin}" is not installed (or not on PATH)` : `"${bin}" cannot run: ${err.message}` });
    });
    child.once('close', (code) => {
      const version = /opus-tools (\S+)/.exec(out)?.[1];
      resolve(code === 0 && version ? { ok: true, version } : { ok: false, reason: `"${bin}" is not from opus-tools (its --version says ${JSON.stringify(out.trim().split('\n')[0] ?? '')})` });
    });
  });
}

/**
 * opusenc reading WAV from sox's standard output and writing `output` (absolute). --ignorelength:
 * sox cannot go back to fix the WAV header's length on a pipe. --serial: the Ogg stream's serial
 * number, random otherwise, comes from the final name, so the same conversion gives the same
 * bytes (as sox -R does) and different outputs still get different serials (files joined into
 * one chained stream need them different).
 */
export function opusEncoder(bin: string, output: string, finalName: string): PipeTool {
  const serial = createHash('sha256').update(finalName).digest().readUInt32BE(0) & 0x7fffffff;
  return { bin, args: ['--quiet', '--ignorelength', '--bitrate', String(OPUS_BITRATE_KBPS), '--serial', String(serial), '--', '-', output] };
}

/**
 * opusdec decoding `input` (absolute, so never read as an option, `-` or a `file:` URL) to WAV
 * on its standard output, at the rate the file records.
 */
export function opusDecoder(bin: string, input: string): PipeTool {
  return { bin, args: ['--quiet', '--force-wav', '--', input, '-'] };
}

/** Reads a whole OGG Opus file's pages: what it holds, or why it is no whole Opus stream. */
export async function readOggOpus(path: string): Promise<OggOpusResult> {
  const walker = new OggOpusWalker();
  await readBlocks(path, (block) => walker.push(block));
  return walker.result();
}
