import { describe, expect, it } from 'vitest';
import { silence, tone } from './audio.ts';
import { TurnDetector } from './turn-detector.ts';

const R = 16000;
const frames = (pcm: Buffer, ms = 20): Buffer[] => {
  const n = (R * ms) / 1000 * 2;
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += n) out.push(pcm.subarray(i, i + n));
  return out;
};
const feed = (d: TurnDetector, pcm: Buffer): string[] => frames(pcm).map((f) => d.push(f, R)).filter((s) => s !== 'none');

describe('turn detector', () => {
  it('VAD: speech after minSpeechMs of loud audio, end of turn after endSilenceMs of quiet', () => {
    const d = new TurnDetector({ minSpeechMs: 60, endSilenceMs: 200 });
    expect(feed(d, silence(200, R))).toEqual([]);
    expect(feed(d, tone(40, R))).toEqual([]); // too short to be speech
    expect(feed(d, silence(40, R))).toEqual([]);
    const speech = tone(100, R, 200);
    expect(feed(d, speech)).toEqual(['speech-start']);
    expect(feed(d, silence(180, R))).toEqual([]);
    expect(feed(d, silence(20, R))).toEqual(['turn-end']);
    expect(d.takeTurnAudio().pcm.equals(speech)).toBe(true); // trimmed to the loud frames
  });

  it('while responding only speech onsets are reported (barge-in candidates)', () => {
    const d = new TurnDetector({ minSpeechMs: 40, endSilenceMs: 100 });
    d.respond();
    expect(feed(d, Buffer.concat([tone(60, R), silence(200, R)]))).toEqual(['speech-start']);
    d.listen();
    expect(feed(d, Buffer.concat([tone(60, R), silence(200, R)]))).toEqual(['speech-start', 'turn-end']);
  });

  it('a barge-in keeps its audio for the next turn', () => {
    const d = new TurnDetector({ minSpeechMs: 40, endSilenceMs: 100 });
    d.respond();
    const speech = tone(200, R, 300);
    expect(feed(d, speech.subarray(0, 3200))).toEqual(['speech-start']); // 100 ms in: interrupted
    d.listen();
    expect(feed(d, Buffer.concat([speech.subarray(3200), silence(100, R)]))).toEqual(['turn-end']);
    expect(d.takeTurnAudio().pcm.equals(speech)).toBe(true);
  });

  it('afterAudioMs ends the turn on audio time alone, whatever it holds', () => {
    const d = new TurnDetector({ afterAudioMs: 100 });
    expect(feed(d, silence(80, R))).toEqual([]);
    expect(feed(d, silence(20, R))).toEqual(['turn-end']);
    expect(d.takeTurnAudio().pcm.length).toBe(3200);
    d.respond();
    expect(feed(d, silence(500, R))).toEqual([]);
    expect(feed(d, tone(100, R))).toEqual(['speech-start']);
  });
});
