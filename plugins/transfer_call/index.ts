import { defineTool } from '../../core/plugins/types.ts';

export interface TransferCallInput {
  destination?: string;
  reason?: string;
}

export interface TransferCallOptions {
  allowed?: string[];
  default?: string;
}

export type TransferCallResult =
  | { transferring: true; destination: string; reason?: string; message: string }
  | { error: string; allowed?: string[] };

/** The outcome that ends the Nova step; the flow's `on: { transfer: … }` branch does the transfer. */
export const TRANSFER_OUTCOME = 'transfer';

/** An extension or E.164 number: digits, `*`, `#`, optional leading `+` (the same rule as the call API's dialable numbers). */
const DIALABLE = /^\+?[0-9*#]{1,64}$/;

export default defineTool<TransferCallInput>({
  meta: {
    name: 'transfer_call',
    version: '1.0.0',
    engine: '^0.1',
    description:
      'Transfers the caller to a person or department. Call it when the caller asks for a human or needs someone you cannot replace. ' +
      'Pass destination only when your instructions name the extension or number for what the caller needs; omit it to reach the default person. ' +
      'Tell the caller you are transferring them before you call this: your part of the call ends when it succeeds. ' +
      'If it returns an error, apologise, and offer one of the allowed destinations it lists, if any.',
    schema: {
      type: 'object',
      properties: {
        destination: { type: 'string', description: 'Extension or phone number from your instructions, digits only, e.g. "1001" or "+15551234567". Omit it for the default person.' },
        reason: { type: 'string', description: 'Why the caller is transferred, in a few words, e.g. "billing question".' },
      },
    },
    optionsSchema: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allowed: {
          type: 'array',
          items: { type: 'string', pattern: DIALABLE.source },
          description: 'Extensions or numbers the model may transfer to (quote them: "1001"). Anything else is refused.',
        },
        default: { type: 'string', pattern: DIALABLE.source, description: 'Where to transfer when the model names no destination; always allowed.' },
      },
      // Without either, every transfer would be refused: say so when the flow loads.
      anyOf: [{ required: ['allowed'] }, { required: ['default'] }],
    },
  },
  async run(input, ctx) {
    const options = ctx.options as Readonly<TransferCallOptions>;
    const fallback = typeof options.default === 'string' ? dialable(options.default) : undefined;
    const listed = Array.isArray(options.allowed) ? options.allowed.map((d) => dialable(String(d))) : [];
    const permitted = [...new Set([fallback, ...listed].filter((d): d is string => d !== undefined))];
    const refuse = (error: string): { result: TransferCallResult } => {
      ctx.log.info({ tool: 'transfer_call', asked: typeof input.destination === 'string' ? input.destination.slice(0, 64) : undefined, error }, 'transfer refused');
      return { result: permitted.length > 0 ? { error, allowed: permitted } : { error } };
    };

    if (permitted.length === 0) {
      ctx.log.warn({ tool: 'transfer_call' }, 'transfer_call has no allowed destination: give it `allowed` or `default` in the flow');
      return { result: { error: 'transfers are not available on this call: apologise and help the caller another way' } };
    }
    const asked = typeof input.destination === 'string' ? input.destination.trim() : '';
    let destination: string | undefined;
    if (asked === '') {
      if (!fallback) return refuse('no destination given: ask the caller who they want to reach');
      destination = fallback;
    } else {
      destination = dialable(asked);
      if (!destination) return refuse(`"${oneLine(asked).slice(0, 40)}" is not an extension or phone number: pass digits only, e.g. "1001"`);
      if (!permitted.includes(destination)) return refuse(`transfers to ${destination} are not allowed`);
    }

    const reason = typeof input.reason === 'string' ? oneLine(input.reason) : '';
    ctx.log.info({ tool: 'transfer_call', destination, reason: reason || undefined }, 'the model transfers the call');
    const result: TransferCallResult = { transferring: true, destination, ...(reason ? { reason } : {}), message: `The caller is being transferred to ${destination}.` };
    return { outcome: TRANSFER_OUTCOME, result };
  },
});

/** `+1 (555) 123-4567` → `+15551234567`; undefined for anything that is not an extension or number. */
export function dialable(text: string): string | undefined {
  const compact = text.replace(/[\s\-().]/g, '');
  return DIALABLE.test(compact) ? compact : undefined;
}

/** Model text kept for logs and step results: one line, no control characters, bounded. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\s]+/gu, ' ').trim().slice(0, 200);
}
