import { defineStep } from '../../core/plugins/types.ts';

interface SetOptions {
  vars?: Record<string, unknown>;
  channel?: Record<string, string | number | boolean>;
}

export default defineStep<SetOptions>({
  meta: {
    name: 'set',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Sets flow variables (readable as ${vars.name}) and/or FreeSWITCH channel variables.',
    schema: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        vars: { type: 'object', description: 'Flow variables to set.' },
        channel: { type: 'object', description: 'Channel variables to set on the call (uuid_setvar).', additionalProperties: { type: ['string', 'number', 'boolean'] } },
      },
    },
    analyse: (options) => ({ defines: Object.keys((options.vars as Record<string, unknown> | undefined) ?? {}) }),
  },
  create: ({ vars, call }) => ({
    async run(options) {
      Object.assign(vars, options.vars);
      for (const [name, value] of Object.entries(options.channel ?? {})) await call.setVar(name, value);
      return { outcome: 'ok' };
    },
  }),
});
