import { outcomeOfCause } from '../../core/plugins/outcomes.ts';
import { defineStep } from '../../core/plugins/types.ts';
import { soundPath } from '../play/play-files.ts';

export interface ParkOptions {
  music: string;
  timeout: number;
  answer: boolean;
}

/**
 * Holds the caller, with music, until an application decides: POST /v1/calls/:id/answer,
 * /bridge, /transfer or /hangup (or a timeout).
 */
export default defineStep<ParkOptions>({
  meta: {
    name: 'park',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Holds the caller with music until the REST API answers, bridges, transfers or hangs up the call, or the timeout passes.',
    shorthand: 'timeout',
    outcomes: ['answered', 'bridged', 'transferred', 'hungup', 'timeout', 'busy', 'no_answer', 'failed'],
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        music: { type: 'string', default: 'local_stream://moh', description: 'Music while waiting (a file, or FreeSWITCH\'s local_stream://moh).' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 86400, default: 300, description: 'Seconds before giving up (outcome timeout).' },
        answer: { type: 'boolean', default: false, description: 'Answer before holding (otherwise the music plays as early media while the call rings).' },
      },
    },
  },
  create: ({ call, control, config, log }) => ({
    async run(o, signal) {
      if (call.state === 'ringing') await call.execute(o.answer ? 'answer' : 'pre_answer', undefined, { signal });
      const waiting = AbortSignal.any([signal, AbortSignal.timeout(o.timeout * 1000)]);
      const music = new AbortController();
      const musicDone = (async () => {
        while (!music.signal.aborted && !call.isGone) await call.playback(soundPath(o.music, config.soundsDir), { signal: music.signal }).catch(() => undefined);
      })();
      control.listen(true);
      let cmd;
      try {
        cmd = await control.next(waiting).catch(() => undefined);
      } finally {
        control.listen(false);
        music.abort();
        if (!call.isGone) await call.break().catch(() => {});
        await musicDone;
      }
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      if (!cmd) return { outcome: 'timeout' };
      log.info({ action: cmd.action }, 'parked call released');
      switch (cmd.action) {
        case 'answer':
          if (call.state !== 'answered') await call.answer({ signal });
          return { outcome: 'answered' };
        case 'hangup':
          await call.hangup(cmd.cause ?? 'NORMAL_CLEARING');
          return { outcome: 'hungup' };
        case 'transfer':
          await call.transfer(cmd.to, { context: cmd.context ?? call.data.context });
          return { outcome: 'transferred', to: cmd.to };
        case 'bridge': {
          const targets = Array.isArray(cmd.to) ? cmd.to : [cmd.to];
          const r = await call.bridge(targets.map((endpoint) => ({ endpoint })), { timeoutSec: cmd.timeout ?? 30, signal });
          return { outcome: r.ok ? 'bridged' : outcomeOfCause(r.cause), cause: r.cause };
        }
      }
    },
  }),
});
