/**
 * Turn taking on the caller's audio: an energy VAD (speech = frame RMS at or above a threshold)
 * that finds speech onsets (barge-in) and ends of user turns, plus a deterministic mode that ends
 * the user turn after a fixed amount of audio. All durations are audio time (from sample counts),
 * never wall-clock time, so results do not depend on how fast the client sends.
 */
import { pcmDurationMs, resample, rms } from './audio.ts';
import type { TurnDetection } from './scripts.ts';

export const DEFAULT_RMS_THRESHOLD = 500;
export const DEFAULT_MIN_SPEECH_MS = 60;
export const DEFAULT_END_SILENCE_MS = 500;

export type VadSignal = 'none' | 'speech-start' | 'speech-end';

export interface VadOptions {
  rmsThreshold?: number;
  minSpeechMs?: number;
  endSilenceMs?: number;
}

/** Energy VAD over whole frames (one audioInput event = one frame). */
export class EnergyVad {
  readonly threshold: number;
  readonly minSpeechMs: number;
  readonly endSilenceMs: number;
  /** True between a speech onset and the end of speech. */
  inSpeech = false;
  private loudMs = 0;
  private quietMs = 0;

  constructor(options: VadOptions = {}) {
    this.threshold = options.rmsThreshold ?? DEFAULT_RMS_THRESHOLD;
    this.minSpeechMs = options.minSpeechMs ?? DEFAULT_MIN_SPEECH_MS;
    this.endSilenceMs = options.endSilenceMs ?? DEFAULT_END_SILENCE_MS;
  }

  /** Classify one frame; `loud` tells the caller whether this frame itself counted as speech. */
  push(level: number, ms: number): VadSignal {
    const loud = level >= this.threshold;
    if (!this.inSpeech) {
      this.loudMs = loud ? this.loudMs + ms : 0;
      if (this.loudMs >= this.minSpeechMs) {
        this.inSpeech = true;
        this.quietMs = 0;
        return 'speech-start';
      }
      return 'none';
    }
    this.quietMs = loud ? 0 : this.quietMs + ms;
    if (this.quietMs >= this.endSilenceMs) {
      this.inSpeech = false;
      this.loudMs = 0;
      return 'speech-end';
    }
    return 'none';
  }

  reset(): void {
    this.inSpeech = false;
    this.loudMs = 0;
    this.quietMs = 0;
  }
}

/** What a frame meant for the conversation. */
export type TurnSignal = 'none' | 'speech-start' | 'turn-end';

/**
 * The session tells it whether the model is listening (end-of-turn detection on) or responding
 * (only speech onsets matter: they are barge-in candidates). It keeps the audio of the current user
 * turn so `echo` can play it back: in VAD mode from the first loud frame of the onset to the last
 * loud frame; in `afterAudioMs` mode every frame of the window.
 */
export class TurnDetector {
  readonly vad: EnergyVad;
  private readonly afterAudioMs: number | undefined;
  private readonly maxCaptureMs: number;
  private listening = true;
  private windowMs = 0;
  private onsetRun: Buffer[] = [];
  private capture: Buffer[] = [];
  private captureMs = 0;
  private captureRate = 0;
  private keepUpTo = 0;

  constructor(spec: TurnDetection | undefined, maxCaptureMs = 30_000) {
    if (spec && 'afterAudioMs' in spec) {
      this.afterAudioMs = spec.afterAudioMs;
      this.vad = new EnergyVad(spec.bargeIn ?? {});
    } else {
      this.afterAudioMs = undefined;
      this.vad = new EnergyVad(spec ?? {});
    }
    this.maxCaptureMs = maxCaptureMs;
  }

  get mode(): 'vad' | 'afterAudioMs' {
    return this.afterAudioMs === undefined ? 'vad' : 'afterAudioMs';
  }

  /** Start listening for a new user turn. Speech already under way (a barge-in) belongs to it. */
  listen(): void {
    this.listening = true;
    this.windowMs = 0;
    if (this.afterAudioMs !== undefined || !this.vad.inSpeech) this.clearCapture();
  }

  /** The model is answering: stop ending turns, keep watching for speech onsets. */
  respond(): void {
    this.listening = false;
    if (!this.vad.inSpeech) this.clearCapture();
  }

  push(pcm: Buffer, sampleRate: number): TurnSignal {
    const ms = pcmDurationMs(pcm.length, sampleRate);
    const level = rms(pcm);
    const loud = level >= this.vad.threshold;
    const signal = this.vad.push(level, ms);

    if (this.afterAudioMs !== undefined) {
      if (!this.listening) return signal === 'speech-start' ? 'speech-start' : 'none';
      this.keep(pcm, sampleRate, ms, true);
      this.windowMs += ms;
      if (this.windowMs >= this.afterAudioMs) {
        this.windowMs = 0;
        return 'turn-end';
      }
      return signal === 'speech-start' ? 'speech-start' : 'none';
    }

    if (signal === 'speech-start') {
      this.clearCapture();
      for (const f of this.onsetRun) this.keep(f, sampleRate, pcmDurationMs(f.length, sampleRate), true);
      this.onsetRun = [];
      this.keep(pcm, sampleRate, ms, true);
      return 'speech-start';
    }
    if (this.vad.inSpeech || signal === 'speech-end') {
      this.keep(pcm, sampleRate, ms, loud);
    } else if (loud) {
      this.onsetRun.push(pcm);
    } else {
      this.onsetRun = [];
    }
    if (signal === 'speech-end' && this.listening) return 'turn-end';
    return 'none';
  }

  /** The caller's audio for the turn that just ended, and its sample rate; clears it. */
  takeTurnAudio(): { pcm: Buffer; sampleRate: number } {
    const frames = this.afterAudioMs !== undefined ? this.capture : this.capture.slice(0, this.keepUpTo);
    const out = { pcm: Buffer.concat(frames), sampleRate: this.captureRate || 16000 };
    this.clearCapture();
    return out;
  }

  private keep(pcm: Buffer, sampleRate: number, ms: number, loud: boolean): void {
    if (this.captureMs + ms > this.maxCaptureMs) return;
    if (this.capture.length === 0) this.captureRate = sampleRate;
    this.capture.push(sampleRate === this.captureRate ? pcm : resample(pcm, sampleRate, this.captureRate));
    this.captureMs += ms;
    if (loud) this.keepUpTo = this.capture.length;
  }

  private clearCapture(): void {
    this.capture = [];
    this.captureMs = 0;
    this.keepUpTo = 0;
  }
}
