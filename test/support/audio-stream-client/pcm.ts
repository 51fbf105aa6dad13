/** L16 (signed 16-bit little-endian, mono) helpers for the audio-stream stand-in. */

/** Bytes in one frame mod_audio_stream sends: 20 ms → 320 at 8 kHz, 640 at 16 kHz. */
export function frameBytes(sampleRate: number, frameMs: number): number {
  return (sampleRate / 1000) * frameMs * 2;
}

export function samplesFor(ms: number, sampleRate: number): number {
  return Math.round((ms * sampleRate) / 1000);
}

export function silence(ms: number, sampleRate: number): Buffer {
  return Buffer.alloc(samplesFor(ms, sampleRate) * 2);
}

/**
 * A sine tone. `startSample` continues the phase of an earlier call, so consecutive tones join
 * without a click; the return value says where the next one starts.
 */
export function tone(ms: number, sampleRate: number, hz = 440, startSample = 0, amplitude = 8000): { pcm: Buffer; nextSample: number } {
  const n = samplesFor(ms, sampleRate);
  const pcm = Buffer.allocUnsafe(n * 2);
  const step = (2 * Math.PI * hz) / sampleRate;
  for (let i = 0; i < n; i++) pcm.writeInt16LE(Math.round(Math.sin((startSample + i) * step) * amplitude), i * 2);
  return { pcm, nextSample: startSample + n };
}

/** Frames whose samples count up from `first` (wrapping at 16 bits): a payload whose order and integrity a test can check. */
export function countingPcm(samples: number, first = 0): Buffer {
  const pcm = Buffer.allocUnsafe(samples * 2);
  for (let i = 0; i < samples; i++) pcm.writeUInt16LE((first + i) & 0xffff, i * 2);
  return pcm;
}
