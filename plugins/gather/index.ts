import { defineStep } from '../../core/plugins/types.ts';
import { playFiles } from '../play/play-files.ts';

export interface GatherOptions {
  prompt?: string | string[];
  min_digits: number;
  max_digits: number;
  terminator: string;
  timeout: number;
  digit_timeout: number;
  tries: number;
  invalid_prompt?: string;
  pattern?: string;
}

export default defineStep<GatherOptions>({
  meta: {
    name: 'gather',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Collects DTMF digits: plays a prompt (interruptible by the first key), reads up to max_digits or the terminator, retries with an invalid prompt. Result: ${steps.<id>.digits}.',
    needsAnswer: true,
    outcomes: ['timeout', 'invalid'],
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        prompt: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 } }], description: 'Played before reading; a key press stops it.' },
        min_digits: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
        max_digits: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
        terminator: { type: 'string', pattern: '^[0-9*#]?$', default: '#', description: 'Key that ends the input early ("" for none).' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 120, default: 5, description: 'Seconds to wait for the first key after the prompt.' },
        digit_timeout: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 3, description: 'Seconds to wait between keys.' },
        tries: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
        invalid_prompt: { type: 'string', description: 'Played after an invalid or missing answer, before the next try.' },
        pattern: { type: 'string', description: 'A regular expression the digits must match (e.g. "^[1-3]$").' },
      },
    },
  },
  create: (ctx) => ({
    async run(o, signal) {
      const { call } = ctx;
      const valid = o.pattern ? new RegExp(o.pattern) : undefined;
      let digits = '';
      let lastProblem: 'timeout' | 'invalid' = 'timeout';
      call.flushDigits();
      for (let attempt = 1; attempt <= o.tries; attempt++) {
        if (o.prompt) await playFiles(ctx, { file: o.prompt, barge_in: true }, signal);
        digits = '';
        let timeoutMs = o.timeout * 1000;
        while (digits.length < o.max_digits) {
          const d = await call.nextDigit({ timeoutMs, signal });
          if (d === undefined) break;
          if (o.terminator !== '' && d === o.terminator) break;
          digits += d;
          timeoutMs = o.digit_timeout * 1000;
        }
        if (signal.aborted || call.isGone) break;
        if (digits.length >= o.min_digits && (!valid || valid.test(digits))) return { outcome: 'ok', digits, tries: attempt };
        lastProblem = digits.length === 0 ? 'timeout' : 'invalid';
        ctx.log.info({ attempt, digits, problem: lastProblem }, 'gather: no valid input');
        if (o.invalid_prompt && attempt < o.tries) await playFiles(ctx, { file: o.invalid_prompt }, signal);
        call.flushDigits();
      }
      return { outcome: lastProblem, digits, tries: o.tries };
    },
  }),
});
