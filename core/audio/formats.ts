/**
 * The audio formats Switchboard converts between, named by file extension, and how sox reads and
 * writes each. Headerless formats (raw L16 `.r8`…, `.ul`, `.al`) carry their rate and encoding in
 * the name, as FreeSWITCH and mod_audio_stream use them, so sox is told them explicitly.
 */

export type Codec = 'pcm' | 'mulaw' | 'alaw' | 'gsm';

/** Sample rates accepted on output (the telephony and audio rates sox and the encoders handle). */
export const RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

export interface AudioFormat {
  /** The extension, lower case, without the dot. */
  ext: string;
  label: string;
  /** sox `-t` type (for a format reached through a pipe, what flows on the pipe). */
  soxType: string;
  /** The sox handler that must be listed by `sox -h` for this format, and the Debian package that brings it. */
  handler: string;
  debianPackage: string;
  /** Headerless: what the name means; sox needs it spelled out to read, and the file cannot say it back. */
  raw?: { rate: number; channels: 1; encoding: 'signed-integer' | 'mu-law' | 'a-law'; bits: 8 | 16 };
  /** Output rate and channel count the format allows, when fixed. */
  fixedRate?: number;
  fixedChannels?: number;
  /** Output rates the encoder takes (subset of RATES); any of RATES when absent. */
  rates?: readonly number[];
  /** Codecs selectable on output; the first is the default. Empty: the format is its own codec. */
  codecs: readonly Codec[];
  /** PCM bit depths on output (first is the default); absent: not selectable. */
  bits?: readonly number[];
  /** A lossy encoder pads the end, so an output of nothing but padding can come from an input without audio. */
  lossy?: boolean;
  /**
   * sox neither reads nor writes it: the Debian package whose tools do (opus.ts), sox reading or
   * writing WAV on a pipe to them, so every option works as for the other formats.
   */
  via?: 'opus-tools';
}

const L16 = (ext: string, rate: number): AudioFormat => ({
  ext,
  label: `raw L16 mono at ${rate / 1000} kHz (mod_audio_stream)`,
  soxType: 'raw',
  handler: 'raw',
  debianPackage: 'sox',
  raw: { rate, channels: 1, encoding: 'signed-integer', bits: 16 },
  fixedRate: rate,
  fixedChannels: 1,
  codecs: [],
});

const MPEG_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000] as const;

export const FORMATS: ReadonlyMap<string, AudioFormat> = new Map(
  (
    [
      { ext: 'wav', label: 'WAV', soxType: 'wav', handler: 'wav', debianPackage: 'sox', codecs: ['pcm', 'mulaw', 'alaw', 'gsm'], bits: [16, 8, 24, 32] },
      { ext: 'gsm', label: 'GSM 06.10 (raw, 8 kHz mono)', soxType: 'gsm', handler: 'gsm', debianPackage: 'libsox-fmt-base', fixedRate: 8000, fixedChannels: 1, codecs: [] },
      L16('r8', 8000),
      L16('r16', 16000),
      L16('r24', 24000),
      L16('r32', 32000),
      L16('r48', 48000),
      { ext: 'ul', label: 'raw µ-law, 8 kHz mono', soxType: 'ul', handler: 'ul', debianPackage: 'sox', raw: { rate: 8000, channels: 1, encoding: 'mu-law', bits: 8 }, fixedRate: 8000, fixedChannels: 1, codecs: [] },
      { ext: 'al', label: 'raw A-law, 8 kHz mono', soxType: 'al', handler: 'al', debianPackage: 'sox', raw: { rate: 8000, channels: 1, encoding: 'a-law', bits: 8 }, fixedRate: 8000, fixedChannels: 1, codecs: [] },
      { ext: 'mp3', label: 'MP3', soxType: 'mp3', handler: 'mp3', debianPackage: 'libsox-fmt-mp3', rates: MPEG_RATES, codecs: [], lossy: true },
      { ext: 'ogg', label: 'OGG Vorbis', soxType: 'vorbis', handler: 'vorbis', debianPackage: 'libsox-fmt-base', codecs: [], lossy: true },
      { ext: 'flac', label: 'FLAC', soxType: 'flac', handler: 'flac', debianPackage: 'libsox-fmt-base', codecs: ['pcm'], bits: [16, 24, 8] },
      // sox's own opus handler only reads (libopusfile), and the sox of Debian 12 has none.
      { ext: 'opus', label: 'OGG Opus', soxType: 'wav', handler: 'wav', debianPackage: 'opus-tools', via: 'opus-tools', codecs: [], lossy: true },
    ] satisfies AudioFormat[]
  ).map((f) => [f.ext, f]),
);

/** The format a path names by its extension (case-insensitive), or undefined. */
export function formatOf(path: string): AudioFormat | undefined {
  const m = /\.([A-Za-z0-9]{1,8})$/.exec(path);
  return m ? FORMATS.get((m[1] as string).toLowerCase()) : undefined;
}

export function extensionOf(path: string): string | undefined {
  return /\.([A-Za-z0-9]{1,8})$/.exec(path)?.[1]?.toLowerCase();
}

/** sox `-e` names of the codecs. */
export const SOX_ENCODING: Record<Codec, string> = { pcm: 'signed-integer', mulaw: 'mu-law', alaw: 'a-law', gsm: 'gsm-full-rate' };
