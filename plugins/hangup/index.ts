import { defineStep } from '../../core/plugins/types.ts';

export default defineStep<{ cause: string }>({
  meta: {
    name: 'hangup',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Hangs up the call with a cause (default NORMAL_CLEARING). The flow ends here.',
    shorthand: 'cause',
    terminal: true,
    schema: {
      type: 'object',
      additionalProperties: false,
      properties: { cause: { type: 'string', pattern: '^[A-Z][A-Z_]+$', default: 'NORMAL_CLEARING', description: 'A FreeSWITCH hangup cause, e.g. NORMAL_CLEARING, USER_BUSY, CALL_REJECTED.' } },
    },
  },
  create: ({ call }) => ({
    async run({ cause }) {
      await call.hangup(cause);
      return { outcome: 'ok', cause };
    },
  }),
});
