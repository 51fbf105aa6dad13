import { defineStep } from '../../core/plugins/types.ts';
import { playFiles, playSchemaProperties, type PlayOptions } from '../play/play-files.ts';

export const DEFAULT_GREETING = 'welcome.wav';

export default defineStep<PlayOptions>({
  meta: {
    name: 'greet',
    version: '1.0.0',
    engine: '^0.1',
    description: `Greets the caller: plays a greeting (default: ${DEFAULT_GREETING} from SB_SOUNDS_DIR), optionally interruptible by a key press.`,
    shorthand: 'file',
    needsAnswer: true,
    outcomes: ['interrupted'],
    schema: { type: 'object', additionalProperties: false, properties: { ...playSchemaProperties, file: { ...playSchemaProperties.file, default: DEFAULT_GREETING } } },
  },
  create: (ctx) => ({ run: (options, signal) => playFiles(ctx, options, signal) }),
});
