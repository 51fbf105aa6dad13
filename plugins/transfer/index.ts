import { DIAL_OUTCOMES, outcomeOfCause } from '../../core/plugins/outcomes.ts';
import { defineStep } from '../../core/plugins/types.ts';
import { soundPath } from '../play/play-files.ts';

export interface TransferOptions {
  to: string;
  mode: 'blind' | 'attended' | 'refer' | 'gateway';
  context?: string;
  gateway?: string;
  timeout: number;
  announce?: string;
  caller_id?: string;
}

export default defineStep<TransferOptions>({
  meta: {
    name: 'transfer',
    version: '1.0.0',
    engine: '^0.1',
    description: 'Transfers the caller: blind (to an extension, leaves Switchboard), attended (rings the target, announces, connects; falls back when unanswered), refer (SIP REFER), gateway (dials out through a SIP trunk).',
    shorthand: 'to',
    outcomes: DIAL_OUTCOMES,
    terminal: (o) => o.mode === undefined || o.mode === 'blind' || o.mode === 'refer',
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['to'],
      properties: {
        to: { type: 'string', minLength: 1, description: 'Extension, number, or (refer) a SIP URI.' },
        mode: { enum: ['blind', 'attended', 'refer', 'gateway'], default: 'blind' },
        context: { type: 'string', description: 'Dialplan context for blind transfers (default: the call\'s own).' },
        gateway: { type: 'string', description: 'Gateway (SIP trunk) name for mode gateway.' },
        timeout: { type: 'integer', minimum: 1, maximum: 600, default: 30, description: 'Seconds to ring (attended, gateway).' },
        announce: { type: 'string', description: 'attended: a file played to the person answering before the caller is connected.' },
        caller_id: { type: 'string', description: 'Caller id number presented to the target (attended, gateway).' },
      },
    },
  },
  create: ({ call, config }) => ({
    async run(o, signal) {
      if (o.mode === 'blind') {
        await call.transfer(o.to, { context: o.context ?? call.data.context });
        return { outcome: 'ok', to: o.to, mode: o.mode };
      }
      if (o.mode === 'refer') {
        const uri = o.to.startsWith('sip:') ? o.to : `sip:${o.to}${call.data.domain ? `@${call.data.domain}` : ''}`;
        await call.execute('deflect', uri, { signal });
        return { outcome: 'ok', to: uri, mode: o.mode };
      }
      const endpoint =
        o.mode === 'gateway'
          ? { kind: 'gateway' as const, gateway: o.gateway ?? '', number: o.to }
          : o.to;
      const vars: Record<string, string> = {};
      if (o.announce) {
        vars.group_confirm_file = soundPath(o.announce, config.soundsDir);
        vars.group_confirm_key = 'exec';
      }
      const result = await call.bridge([{ endpoint, vars }], { timeoutSec: o.timeout, callerIdNumber: o.caller_id, signal });
      return { outcome: result.ok ? 'ok' : outcomeOfCause(result.cause), cause: result.cause, to: o.to, mode: o.mode };
    },
  }),
});
