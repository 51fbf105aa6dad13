import { isAbsolute, resolve } from 'node:path';
import type { StepContext, StepResult } from '../../core/plugins/types.ts';

export interface PlayOptions {
  file: string | string[];
  /** A DTMF key stops the prompt (the key stays buffered for a following gather). */
  barge_in?: boolean;
  /** Times to play the list. */
  loops?: number;
}

/** Sound paths: absolute, a FreeSWITCH stream (`tone_stream://…`), or relative to SB_SOUNDS_DIR. */
export function soundPath(file: string, soundsDir: string): string {
  if (isAbsolute(file) || /^[a-z_]+:\/\//.test(file)) return file;
  return resolve(soundsDir, file);
}

export const playSchemaProperties = {
  file: {
    description: 'A sound file (absolute, FreeSWITCH stream like tone_stream://, or relative to SB_SOUNDS_DIR), or a list played in order.',
    anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }],
  },
  barge_in: { type: 'boolean', default: false, description: 'Stop playing when the caller presses a key.' },
  loops: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
} as const;

/** Plays files in order; with barge_in, a key press stops the rest. */
export async function playFiles(ctx: StepContext, options: PlayOptions, signal: AbortSignal): Promise<StepResult> {
  const files = (Array.isArray(options.file) ? options.file : [options.file]).map((f) => soundPath(f, ctx.config.soundsDir));
  await ctx.call.setVar('playback_terminators', options.barge_in ? 'any' : 'none');
  let played = 0;
  for (let loop = 0; loop < (options.loops ?? 1); loop++) {
    for (const file of files) {
      const { event, response } = await ctx.call.playback(file, { signal });
      const key = event.variable('playback_terminator_used');
      if (/NOT FOUND|FAIL/i.test(response)) ctx.log.warn({ file, response }, 'playback failed');
      else played++;
      if (options.barge_in && key) return { outcome: 'interrupted', key, played };
    }
  }
  return { outcome: 'ok', played };
}
