import { FrameWalker } from './frame-walker.ts';
import type { InfoResult, SoxFileInfo } from './measure.ts';

/** Format tags (and extensible sub-formats) sox names the same way `sox --i` does. */
const ENCODINGS: Record<number, (bits: number) => string | undefined> = {
  1: (bits) => (bits === 8 ? '8-bit Unsigned Integer PCM' : [16, 24, 32].includes(bits) ? `${bits}-bit Signed Integer PCM` : undefined),
  6: (bits) => (bits === 8 ? '8-bit A-law' : undefined),
  7: (bits) => (bits === 8 ? '8-bit u-law' : undefined),
};
const EXTENSIBLE = 0xfffe;

/**
 * Reads a WAV file's header chunks as its bytes go by (the data chunk is stepped over, never
 * read): `fmt ` gives channels, rate and encoding, the data chunk's length the samples. This is
 * what `sox --i` reads too, without a process per file (WAV is what most conversions write).
 * PCM, µ-law and A-law only; anything else — GSM or float in WAV, a data length left unset, a
 * file that ends before or after its chunks say — gives undefined, and sox --i measures it.
 */
export class WavWalker extends FrameWalker<SoxFileInfo | undefined> {
  private format: { tag: number; channels: number; rate: number; bits: number } | undefined;
  private dataBytes: number | undefined;

  protected unit(buf: Buffer, i: number, offset: number): number {
    if (offset === 0) {
      if (buf.length - i < 12) return 0;
      if (buf.toString('latin1', i, i + 4) !== 'RIFF' || buf.toString('latin1', i + 8, i + 12) !== 'WAVE') {
        this.problem = 'not a RIFF WAVE file';
        return 0;
      }
      return 12;
    }
    if (buf.length - i < 8) return 0;
    const id = buf.toString('latin1', i, i + 4);
    const size = buf.readUInt32LE(i + 4);
    if (id === 'fmt ') {
      if (size < 16) {
        this.problem = 'a fmt chunk too short';
        return 0;
      }
      const needed = Math.min(size, 26);
      if (buf.length - i < 8 + needed) return 0;
      let tag = buf.readUInt16LE(i + 8);
      if (tag === EXTENSIBLE && size >= 26) tag = buf.readUInt16LE(i + 8 + 24);
      this.format = { tag, channels: buf.readUInt16LE(i + 10), rate: buf.readUInt32LE(i + 12), bits: buf.readUInt16LE(i + 22) };
    } else if (id === 'data') {
      if (size === 0xffffffff) {
        this.problem = 'a data chunk of unset length';
        return 0;
      }
      this.dataBytes = size;
    }
    return 8 + size + (size & 1);
  }

  /** What the file holds, or undefined: sox --i should measure it. */
  info(): InfoResult | undefined {
    const info = this.result();
    return info && { ok: true, info };
  }

  result(): SoxFileInfo | undefined {
    const f = this.format;
    if (this.problem !== undefined || !this.whole || !f || this.dataBytes === undefined || f.channels === 0 || f.rate === 0) return undefined;
    const encoding = ENCODINGS[f.tag]?.(f.bits);
    const frameBytes = f.channels * (f.bits / 8);
    if (!encoding || this.dataBytes % frameBytes !== 0) return undefined;
    return { rate: f.rate, channels: f.channels, bits: f.bits, encoding, samples: this.dataBytes / frameBytes };
  }
}
