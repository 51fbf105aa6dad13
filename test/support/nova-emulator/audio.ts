/** 16-bit little-endian mono LPCM helpers: level, duration, tone synthesis, resampling. */
import { endianness } from 'node:os';

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

export const BYTES_PER_SAMPLE = 2;

export function pcmDurationMs(bytes: number, sampleRate: number): number {
  return (bytes / BYTES_PER_SAMPLE / sampleRate) * 1000;
}

export function pcmBytesFor(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000) * BYTES_PER_SAMPLE;
}

/** Root mean square of the samples, in 16-bit sample units (0‥32768). */
export function rms(pcm: Buffer): number {
  const n = pcm.length >> 1;
  if (n === 0) return 0;
  let sum = 0;
  if (LITTLE_ENDIAN_HOST && (pcm.byteOffset & 1) === 0) {
    // Fast path: view the bytes as samples without copying (this runs for every audioInput event).
    const samples = new Int16Array(pcm.buffer, pcm.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const s = samples[i]!;
      sum += s * s;
    }
    return Math.sqrt(sum / n);
  }
  for (let i = 0; i < n; i++) {
    const s = pcm.readInt16LE(i << 1);
    sum += s * s;
  }
  return Math.sqrt(sum / n);
}

/** A sine tone: what the emulator "says" when a script asks for `{ ms, hz }` instead of real audio. */
export function tone(ms: number, sampleRate: number, hz = 440, amplitude = 8000): Buffer {
  const samples = Math.round((ms * sampleRate) / 1000);
  const out = Buffer.allocUnsafe(samples * BYTES_PER_SAMPLE);
  const step = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < samples; i++) out.writeInt16LE(Math.round(Math.sin(i * step) * amplitude), i * BYTES_PER_SAMPLE);
  return out;
}

export function silence(ms: number, sampleRate: number): Buffer {
  return Buffer.alloc(pcmBytesFor(ms, sampleRate));
}

/** Linear-interpolation resampler; identity (same Buffer) when the rates match. Good enough for echo. */
export function resample(pcm: Buffer, fromRate: number, toRate: number): Buffer {
  if (fromRate === toRate) return pcm;
  const inSamples = pcm.length >> 1;
  if (inSamples === 0) return Buffer.alloc(0);
  const outSamples = Math.max(1, Math.round((inSamples * toRate) / fromRate));
  const out = Buffer.allocUnsafe(outSamples * BYTES_PER_SAMPLE);
  const ratio = fromRate / toRate;
  for (let i = 0; i < outSamples; i++) {
    const x = i * ratio;
    const i0 = Math.min(Math.floor(x), inSamples - 1);
    const i1 = Math.min(i0 + 1, inSamples - 1);
    const f = x - i0;
    const s = pcm.readInt16LE(i0 << 1) * (1 - f) + pcm.readInt16LE(i1 << 1) * f;
    out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(s))), i << 1);
  }
  return out;
}
