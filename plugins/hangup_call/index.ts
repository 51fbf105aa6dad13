import { defineTool } from '../../core/plugins/types.ts';

export interface HangupCallInput {
  reason?: string;
}

export interface HangupCallResult {
  ending: true;
  /** The model's reason, cleaned up; readable in the flow as `${steps.<id>.reason}`. */
  reason?: string;
  message: string;
}

/** The outcome that ends the Nova step; the flow's `on: { hangup: … }` branch, or the step itself, hangs up. */
export const HANGUP_OUTCOME = 'hangup';

export default defineTool<HangupCallInput>({
  meta: {
    name: 'hangup_call',
    version: '1.0.0',
    engine: '^0.1',
    description:
      'Ends the phone call. Call it only when the conversation is over: the caller said goodbye or asked to end the call, ' +
      'or their request is handled and they want nothing else. Say a short goodbye first: the line closes as soon as you call this. ' +
      'Do not call it to connect the caller to someone else.',
    schema: {
      type: 'object',
      properties: {
        reason: { type: 'string', description: 'Why the call ends, in a few words, e.g. "caller said goodbye" or "question answered".' },
      },
    },
  },
  async run(input, ctx) {
    const reason = typeof input.reason === 'string' ? oneLine(input.reason) : '';
    ctx.log.info({ tool: 'hangup_call', reason: reason || undefined }, 'the model ends the call');
    const result: HangupCallResult = { ending: true, ...(reason ? { reason } : {}), message: 'The call is ending now.' };
    return { outcome: HANGUP_OUTCOME, result };
  },
});

/** Model text kept for logs and step results: one line, no control characters, bounded. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\s]+/gu, ' ').trim().slice(0, 200);
}
