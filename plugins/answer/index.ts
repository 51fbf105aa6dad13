import { defineStep } from '../../core/plugins/types.ts';

export default defineStep<Record<string, never>>({
  meta: {
    name: 'answer',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Answers the call (200 OK). Steps that need media answer on their own when the call is still ringing.',
    schema: { type: 'object', additionalProperties: false, properties: {} },
  },
  create: ({ call }) => ({
    async run(_options, signal) {
      if (call.state === 'answered') return { outcome: 'ok', already: true };
      await call.answer({ signal });
      return { outcome: 'ok' };
    },
  }),
});
