import { DIAL_OUTCOMES, outcomeOfCause } from '../../core/plugins/outcomes.ts';
import { defineStep } from '../../core/plugins/types.ts';

export interface BridgeOptions {
  to: string | string[];
  strategy: 'simultaneous' | 'sequential';
  timeout: number;
  caller_id_number?: string;
  caller_id_name?: string;
}

export default defineStep<BridgeOptions>({
  meta: {
    name: 'bridge',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Connects the caller to one or more endpoints, ringing them all at once or one after another. Returns when the bridged call ends, or with busy / no_answer / failed.',
    shorthand: 'to',
    outcomes: DIAL_OUTCOMES,
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['to'],
      properties: {
        to: {
          description: 'Endpoints: user/1001, 1001 (an extension in the call\'s domain), sofia/gateway/<gw>/<number>, loopback/<ext>.',
          anyOf: [{ type: 'string', minLength: 1 }, { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }],
        },
        strategy: { enum: ['simultaneous', 'sequential'], default: 'simultaneous' },
        timeout: { type: 'integer', minimum: 1, maximum: 600, default: 30, description: 'Seconds to ring each attempt.' },
        caller_id_number: { type: 'string' },
        caller_id_name: { type: 'string' },
      },
    },
  },
  create: ({ call }) => ({
    async run(o, signal) {
      const targets = Array.isArray(o.to) ? o.to : [o.to];
      const r = await call.bridge(targets.map((endpoint) => ({ endpoint })), { mode: o.strategy, timeoutSec: o.timeout, callerIdNumber: o.caller_id_number, callerIdName: o.caller_id_name, signal });
      return { outcome: r.ok ? 'ok' : outcomeOfCause(r.cause), cause: r.cause };
    },
  }),
});
