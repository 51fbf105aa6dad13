import { defineStep } from '../../core/plugins/types.ts';

export default defineStep<{ seconds: number }>({
  meta: {
    name: 'wait',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Pauses the flow (FreeSWITCH sleep: the call keeps its media).',
    shorthand: 'seconds',
    schema: { type: 'object', additionalProperties: false, required: ['seconds'], properties: { seconds: { type: 'number', exclusiveMinimum: 0, maximum: 3600 } } },
  },
  create: ({ call }) => ({
    async run({ seconds }, signal) {
      await call.execute('sleep', String(Math.round(seconds * 1000)), { signal });
      return { outcome: 'ok' };
    },
  }),
});
