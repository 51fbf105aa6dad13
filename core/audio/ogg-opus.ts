import { FrameWalker } from './frame-walker.ts';
import type { InfoResult } from './measure.ts';

/** What an OGG Opus file holds, read from its pages. */
export interface OpusStream {
  channels: number;
  /** The rate the encoder was given (OpusHead records it; Opus itself always runs at 48 kHz). */
  rate: number;
  /** Samples per channel at 48 kHz: the last granule position less the pre-skip (exact). */
  samples48: number;
}

export type OggOpusResult = { ok: true; stream: OpusStream } | { ok: false; code: 'SB_AUDIO_NOT_AUDIO' | 'SB_AUDIO_TRUNCATED' | 'SB_AUDIO_EMPTY'; reason: string };

/** "OggS" and stream structure version 0. */
const PAGE_START = Buffer.from('OggS\0', 'latin1');
const BOS = 0x02;
const EOS = 0x04;

/**
 * Reads an OGG Opus file's pages (RFC 3533, RFC 7845) as its bytes go by: the OpusHead in the
 * first page (channels, input rate, pre-skip), the granule position of the stream's last page
 * (48 kHz samples since the start), and whether the pages run back to back to an end-of-stream
 * page exactly at the end of the file. That is how an input is told apart as not Opus, cut
 * short, or empty before opusdec runs (opusdec says only "Failed to open", or decodes a cut file
 * as far as it goes without a word), and how an output is measured. Pages of other logical
 * streams are skipped; a chained file is measured by its first stream.
 */
export class OggOpusWalker extends FrameWalker<OggOpusResult> {
  private serial: number | undefined;
  private head: { channels: number; rate: number; preSkip: number } | undefined;
  private granule = -1;
  private ended = false;

  protected unit(buf: Buffer, i: number, offset: number): number {
    const have = Math.min(PAGE_START.length, buf.length - i);
    if (!buf.subarray(i, i + have).equals(PAGE_START.subarray(0, have))) {
      this.problem = offset === 0 ? 'not an Ogg file' : `damaged: no Ogg page where one should start (byte ${offset})`;
      return 0;
    }
    if (buf.length - i < 27) return 0;
    const segments = buf[i + 26] as number;
    if (buf.length - i < 27 + segments) return 0;
    let body = 0;
    for (let s = 0; s < segments; s++) body += buf[i + 27 + s] as number;
    const serial = buf.readUInt32LE(i + 14);
    if (this.serial === undefined) {
      // The first page holds the OpusHead packet alone.
      if (buf.length - i < 27 + segments + body) return 0;
      this.readHead(buf.subarray(i + 27 + segments, i + 27 + segments + body), (buf[i + 5] as number) & BOS);
      this.serial = serial;
    } else if (serial === this.serial) {
      if (this.ended) {
        this.problem = `damaged: a page after the end of the stream (byte ${offset})`;
        return 0;
      }
      const granule = Number(buf.readBigInt64LE(i + 6));
      if (granule !== -1) this.granule = granule;
      this.ended = ((buf[i + 5] as number) & EOS) !== 0;
    }
    return 27 + segments + body;
  }

  private readHead(packet: Buffer, bos: number): void {
    if (!bos || packet.length < 19 || packet.toString('latin1', 0, 8) !== 'OpusHead') {
      this.problem = packet.toString('latin1', 1, 7) === 'vorbis' ? 'an Ogg Vorbis file, not Opus (name it .ogg)' : 'an Ogg file, but not Opus (no OpusHead)';
      return;
    }
    const channels = packet[9] as number;
    if ((packet[8] as number) >> 4 !== 0 || channels === 0) {
      this.problem = `an OpusHead this reader does not know (version ${packet[8]}, ${channels} channels)`;
      return;
    }
    // A rate of 0 means "not recorded": Opus's own 48 kHz.
    this.head = { channels, preSkip: packet.readUInt16LE(10), rate: packet.readUInt32LE(12) || 48000 };
  }

  /**
   * What a written file holds, as sox --i says it of other formats: the rate the encoder was
   * given, and the exact sample count at that rate (opusdec decodes to it). Read from the pages
   * rather than by running opusinfo: no process to start, and exact where opusinfo rounds the
   * length to the millisecond.
   */
  info(): InfoResult {
    const r = this.result();
    if (!r.ok) return { ok: false, reason: r.reason };
    const { rate, channels, samples48 } = r.stream;
    return { ok: true, info: { rate, channels, bits: 16, encoding: 'Opus', samples: Math.round((samples48 * rate) / 48000) } };
  }

  result(): OggOpusResult {
    if (this.problem !== undefined) return { ok: false, code: 'SB_AUDIO_NOT_AUDIO', reason: this.problem };
    if (!this.head) return { ok: false, code: 'SB_AUDIO_TRUNCATED', reason: 'cut inside its first Ogg page' };
    if (!this.whole) return { ok: false, code: 'SB_AUDIO_TRUNCATED', reason: 'cut inside an Ogg page' };
    if (!this.ended) return { ok: false, code: 'SB_AUDIO_TRUNCATED', reason: 'the Opus stream has no end page (a recording still being written, or a cut file)' };
    const samples48 = this.granule - this.head.preSkip;
    if (samples48 <= 0) return { ok: false, code: 'SB_AUDIO_EMPTY', reason: 'no samples (an Opus stream without audio)' };
    return { ok: true, stream: { channels: this.head.channels, rate: this.head.rate, samples48 } };
  }
}
