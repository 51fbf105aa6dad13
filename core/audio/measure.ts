import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { ProcessEnd } from './launcher.ts';
import { soxLauncher } from './sox.ts';

/** What `sox --i` says about a file. `samples` is undefined when the format does not record it (raw GSM). */
export interface SoxFileInfo {
  rate: number;
  channels: number;
  /** Bits per sample as encoded (8 for µ-law), else sox's precision. */
  bits: number;
  /** sox's name of the encoding, e.g. "16-bit Signed Integer PCM", "GSM", "MPEG audio (layer I, II or III)". */
  encoding: string;
  samples: number | undefined;
}

export type InfoResult = { ok: true; info: SoxFileInfo } | { ok: false; reason: string };

/** Runs one `sox --i` over several files and reads each block back in argument order. */
export async function soxInfo(bin: string, paths: readonly string[]): Promise<InfoResult[]> {
  const [sox] = await soxLauncher().run([{ bin, args: ['--i', ...paths] }], { capture: true }).ended;
  const { stdout, stderr, spawnError } = sox as ProcessEnd;
  if (spawnError) throw new Error(`${bin} cannot run: ${spawnError.message}`);
  return parseInfo(stdout, stderr, paths);
}

/** Exported for the tests. The header line holds the path verbatim, so blocks are found by it, never by blank lines. */
export function parseInfo(out: string, err: string, paths: readonly string[]): InfoResult[] {
  const headers = paths.map((p) => `Input File     : '${p}'\n`);
  let at = 0;
  return paths.map((p, i) => {
    const start = out.indexOf(headers[i] as string, at);
    if (start < 0) {
      const fail = err.split(/\n(?=sox [A-Z]{4} )/).find((m) => m.startsWith('sox FAIL ') && m.includes(`\`${p}'`));
      return { ok: false, reason: fail?.replace(/^sox FAIL \S+ /, '').trim() ?? 'sox --i could not read it' };
    }
    const bodyStart = start + (headers[i] as string).length;
    const next = headers.slice(i + 1).map((h) => out.indexOf(h, bodyStart)).filter((n) => n >= 0);
    const block = out.slice(bodyStart, next.length > 0 ? Math.min(...next) : undefined);
    at = bodyStart;
    const field = (name: string): string | undefined => new RegExp(`^${name}\\s*: (.+)$`, 'm').exec(block)?.[1]?.trim();
    const rate = Number(field('Sample Rate'));
    const channels = Number(field('Channels'));
    const encoding = field('Sample Encoding') ?? 'unknown';
    const precision = Number(/^(\d+)-bit/.exec(field('Precision') ?? '')?.[1]);
    const encodedBits = Number(/^(\d+)-bit/.exec(encoding)?.[1]);
    const samples = /= (\d+) samples/.exec(field('Duration') ?? '')?.[1];
    if (!Number.isFinite(rate) || rate <= 0 || !Number.isFinite(channels) || channels <= 0) return { ok: false, reason: 'sox --i printed no rate or channel count' };
    return { ok: true, info: { rate, channels, bits: Number.isFinite(encodedBits) ? encodedBits : precision, encoding, samples: samples === undefined ? undefined : Number(samples) } };
  });
}

interface Pending {
  path: string;
  resolve(r: InfoResult): void;
  reject(err: unknown): void;
}

/**
 * Reads files' details with `sox --i`, several files per process. A sox process costs more to
 * start than to read a header, so while conversions are running (more files about to need
 * measuring) requests wait up to `windowMs` or until `maxBatch` have gathered; with nothing
 * else running a request is measured at once.
 */
export class SoxInfoReader {
  private pending: Pending[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly bin: string,
    private readonly options: { maxBatch: number; windowMs: number; busy: () => boolean },
  ) {}

  read(path: string): Promise<InfoResult> {
    return new Promise((resolve, reject) => {
      this.pending.push({ path, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) return;
    if (this.pending.length >= this.options.maxBatch || !this.options.busy()) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      if (!this.running) void this.flush();
    }, this.options.windowMs);
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, this.options.maxBatch);
    if (batch.length === 0) return;
    this.running = true;
    try {
      const results = await soxInfo(this.bin, batch.map((p) => p.path));
      batch.forEach((p, i) => p.resolve(results[i] as InfoResult));
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      this.running = false;
      this.schedule();
    }
  }
}

// Read blocks are reused: fresh large buffers would grow the process's memory between garbage
// collections.
const spareBlocks: Buffer[] = [];

/** A file's sha256 (hex) and size, from one read of its bytes; a walker (frame-walker.ts) reads the same bytes on the way. */
export async function sha256File(path: string, walker?: { push(block: Buffer): void }): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  await readBlocks(path, (block) => {
    hash.update(block);
    bytes += block.length;
    walker?.push(block);
  });
  return { sha256: hash.digest('hex'), bytes };
}

/** Hands a file's bytes to `take` in 256 KiB blocks (a stream's 64 KiB chunks cost more than the hashing). The block is reused once `take` returns. */
export async function readBlocks(path: string, take: (block: Buffer) => void): Promise<void> {
  const block = spareBlocks.pop() ?? Buffer.allocUnsafe(256 * 1024);
  const file = await open(path, 'r').catch((err: unknown) => {
    spareBlocks.push(block);
    throw err;
  });
  try {
    for (;;) {
      const { bytesRead } = await file.read(block, 0, block.length, null);
      if (bytesRead === 0) return;
      take(block.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
    if (spareBlocks.length < 64) spareBlocks.push(block);
  }
}
