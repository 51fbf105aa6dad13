import { defineStep } from '../../core/plugins/types.ts';
import { playFiles, playSchemaProperties, type PlayOptions } from './play-files.ts';

export default defineStep<PlayOptions>({
  meta: {
    name: 'play',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Plays a sound file or a list of files.',
    shorthand: 'file',
    needsAnswer: true,
    outcomes: ['interrupted'],
    schema: { type: 'object', additionalProperties: false, required: ['file'], properties: playSchemaProperties },
  },
  create: (ctx) => ({ run: (options, signal) => playFiles(ctx, options, signal) }),
});
