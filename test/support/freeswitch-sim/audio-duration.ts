import { closeSync, openSync, readSync, statSync } from 'node:fs';

/**
 * How long FreeSWITCH would play a `playback` argument, in unscaled milliseconds.
 * `Infinity` = until broken (silence_stream://-1, endless loops).
 */
export interface PlaybackInfo {
  durationMs: number;
  /** Playback-File-Type of PLAYBACK_START/STOP */
  fileType: string;
  /** False when a file is not on disk (it then plays for defaultPlaybackMs). */
  found: boolean;
}

const RAW_RATES: Record<string, number> = { r8: 8000, r16: 16000, r24: 24000, r32: 32000, r48: 48000, r64: 64000 };

export function playbackInfo(spec: string, defaultMs: number): PlaybackInfo {
  let file = spec.trim();
  // `{var=value}file` — per-file variables; the file follows the block.
  while (file.startsWith('{')) {
    const end = file.indexOf('}');
    if (end < 0) break;
    file = file.slice(end + 1);
  }
  if (file.startsWith('silence_stream://')) {
    const n = Number.parseInt(file.slice('silence_stream://'.length), 10);
    return { durationMs: !Number.isFinite(n) || n < 0 ? Infinity : n, fileType: 'silence_stream', found: true };
  }
  if (file.startsWith('tone_stream://')) {
    return { durationMs: toneStreamMs(file.slice('tone_stream://'.length)) ?? defaultMs, fileType: 'tone_stream', found: true };
  }
  if (file.startsWith('file_string://')) {
    let total = 0;
    for (const part of file.slice('file_string://'.length).split('!')) {
      if (part) total += playbackInfo(part, defaultMs).durationMs;
    }
    return { durationMs: total, fileType: 'file_string', found: true };
  }
  const ms = fileDurationMs(file);
  if (ms === undefined) return { durationMs: defaultMs, fileType: 'sndfile', found: false };
  return { durationMs: ms, fileType: 'sndfile', found: true };
}

/** `%(on,off,freq…)` segments, `;loops=N` (-1 = forever). Undefined when it cannot tell. */
export function toneStreamMs(spec: string): number | undefined {
  let loops = 1;
  let total = 0;
  let seen = false;
  for (const part of spec.split(';')) {
    const loopMatch = /^\s*loops=(-?\d+)\s*$/.exec(part);
    if (loopMatch) {
      loops = Number(loopMatch[1]);
      continue;
    }
    const re = /%\((\d+),(\d+)(?:,[^)]*)?\)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(part)) !== null) {
      total += Number(m[1]) + Number(m[2]);
      seen = true;
    }
  }
  if (!seen) return undefined;
  if (loops < 0) return Infinity;
  return total * Math.max(1, loops);
}

/** WAV header, or raw L16 `.r8/.r16/…` size ÷ (2 × rate). Undefined when the file is not there. */
export function fileDurationMs(path: string): number | undefined {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) return undefined;
    size = st.size;
  } catch {
    return undefined;
  }
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  if (ext && RAW_RATES[ext]) return (size / (2 * (RAW_RATES[ext] as number))) * 1000;
  if (ext === 'wav') return wavDurationMs(path, size);
  return undefined;
}

function wavDurationMs(path: string, size: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const head = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, head, 0, head.length, 0);
    if (head.toString('latin1', 0, 4) !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') return undefined;
    let off = 12;
    let byteRate = 0;
    while (off + 8 <= head.length) {
      const id = head.toString('latin1', off, off + 4);
      const len = head.readUInt32LE(off + 4);
      if (id === 'fmt ' && off + 16 <= head.length) {
        byteRate = head.readUInt32LE(off + 8 + 8);
      } else if (id === 'data') {
        if (!byteRate) return undefined;
        const available = size - (off + 8);
        const dataLen = len === 0 || len === 0xffffffff || len > available ? available : len;
        return (dataLen / byteRate) * 1000;
      }
      off += 8 + len + (len & 1);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
