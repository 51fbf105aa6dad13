import { isAbsolute, resolve } from 'node:path';
import { defineStep } from '../../core/plugins/types.ts';

export interface RecordOptions {
  file: string;
  max_seconds: number;
  beep: boolean;
  silence_stop?: { threshold: number; seconds: number };
  terminators: string;
}

export default defineStep<RecordOptions>({
  meta: {
    name: 'record',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Records the caller to a file (e.g. a voicemail): optional beep, a maximum length, stop on silence or on a key. Result: ${steps.<id>.file} and .seconds; outcome hangup when the caller hung up while recording (the file is kept).',
    shorthand: 'file',
    outcomes: ['hangup'],
    needsAnswer: true,
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['file'],
      properties: {
        file: { type: 'string', minLength: 1, description: 'Where FreeSWITCH writes the recording (.wav, .mp3 …); relative paths are under SB_RECORDINGS_DIR. Templates welcome: "vm/${call.uuid}.wav".' },
        max_seconds: { type: 'integer', minimum: 1, maximum: 7200, default: 120 },
        beep: { type: 'boolean', default: true, description: 'Play a short tone before recording.' },
        silence_stop: {
          type: 'object',
          additionalProperties: false,
          properties: { threshold: { type: 'integer', minimum: 1, maximum: 10000, default: 200 }, seconds: { type: 'integer', minimum: 1, maximum: 60, default: 3 } },
          description: 'Stop after this many seconds below the energy threshold.',
        },
        terminators: { type: 'string', pattern: '^[0-9*#]*$', default: '#', description: 'Keys that stop the recording.' },
      },
    },
  },
  create: ({ call, config, log }) => ({
    async run(o, signal) {
      const path = isAbsolute(o.file) ? o.file : resolve(config.recordingsDir, o.file);
      await call.setVar('playback_terminators', o.terminators === '' ? 'none' : o.terminators);
      if (o.beep) await call.playback('tone_stream://%(250,0,800)', { signal });
      let event;
      try {
        ({ event } = await call.record(path, { maxSeconds: o.max_seconds, silence: o.silence_stop, signal }));
      } catch (err) {
        // Most voicemails end with the caller hanging up: FreeSWITCH closes the file with what was
        // said, so on_hangup steps still get ${steps.<id>.file}.
        if (!call.isGone) throw err;
        log.info({ file: path }, 'recorded until the caller hung up');
        return { outcome: 'hangup', file: path };
      }
      const ms = event.variable('record_ms');
      const seconds = Number(event.variable('record_seconds') ?? (ms !== undefined ? Number(ms) / 1000 : NaN));
      log.info({ file: path, seconds }, 'recorded');
      return { outcome: 'ok', file: path, seconds: Number.isFinite(seconds) ? seconds : undefined };
    },
  }),
});
