import { createHmac } from 'node:crypto';
import { defineStep } from '../../core/plugins/types.ts';

export interface WebhookOptions {
  url: string;
  method: 'POST' | 'PUT';
  headers?: Record<string, string>;
  data?: Record<string, unknown>;
  timeout: number;
  secret?: string;
}

/**
 * POSTs the call's context to a URL and branches on the JSON answer:
 * `{ "outcome": "vip", "vars": { "name": "Ada" } }` → `on: { vip: … }`, `${vars.name}`.
 */
export default defineStep<WebhookOptions>({
  meta: {
    name: 'webhook',
    version: '1.0.0',
    engine: '^0.1',
    description: 'POSTs the call context (caller, destination, vars, step results) as JSON; the JSON answer may set an outcome and flow variables. Timeouts and non-2xx answers end with outcome timeout / failed.',
    shorthand: 'url',
    openOutcomes: true,
    outcomes: ['timeout', 'failed'],
    schema: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: { type: 'string', pattern: '^https?://', description: 'http(s) URL.' },
        method: { enum: ['POST', 'PUT'], default: 'POST' },
        headers: { type: 'object', additionalProperties: { type: 'string' } },
        data: { type: 'object', description: 'Extra fields sent in the body.' },
        timeout: { type: 'number', exclusiveMinimum: 0, maximum: 60, default: 5, description: 'Seconds.' },
        secret: { type: 'string', description: 'Signs the body: X-Switchboard-Signature: sha256=<HMAC hex>.' },
      },
    },
  },
  create: ({ call, vars, steps, flow, log }) => ({
    async run(o, signal) {
      const body = JSON.stringify({
        call: { uuid: call.id, caller: call.data.callerNumber, caller_name: call.data.callerName, destination: call.data.destination, context: call.data.context, domain: call.data.domain },
        flow: flow.name,
        vars,
        steps,
        data: o.data ?? {},
      });
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'switchboard', ...o.headers };
      if (o.secret) headers['x-switchboard-signature'] = `sha256=${createHmac('sha256', o.secret).update(body).digest('hex')}`;
      let res: Response;
      try {
        res = await fetch(o.url, { method: o.method, headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeout * 1000)]) });
      } catch (err) {
        if (signal.aborted) throw err;
        const timedOut = (err as Error).name === 'TimeoutError';
        log.warn({ url: o.url, err: (err as Error).message }, timedOut ? 'webhook timed out' : 'webhook failed');
        return { outcome: timedOut ? 'timeout' : 'failed', error: (err as Error).message };
      }
      const text = await res.text();
      if (!res.ok) {
        log.warn({ url: o.url, status: res.status }, 'webhook answered with an error status');
        return { outcome: 'failed', status: res.status };
      }
      let answer: { outcome?: unknown; vars?: unknown } = {};
      if (text.trim() !== '') {
        try {
          answer = JSON.parse(text) as typeof answer;
        } catch {
          log.warn({ url: o.url }, 'webhook answer is not JSON');
          return { outcome: 'failed', status: res.status, error: 'answer is not JSON' };
        }
      }
      if (answer.vars && typeof answer.vars === 'object' && !Array.isArray(answer.vars)) Object.assign(vars, answer.vars);
      const outcome = typeof answer.outcome === 'string' && /^[A-Za-z][\w-]*$/.test(answer.outcome) ? answer.outcome : 'ok';
      return { outcome, status: res.status };
    },
  }),
});
