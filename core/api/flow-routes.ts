import type { FastifyInstance } from 'fastify';
import { compileFlow } from '../flow/compile.ts';
import type { Service } from '../service.ts';
import { ERROR_RESPONSES } from './schemas.ts';

const diagnostic = {
  type: 'object',
  required: ['file', 'line', 'column', 'code', 'message', 'severity'],
  properties: {
    file: { type: 'string' },
    line: { type: 'integer' },
    column: { type: 'integer' },
    code: { type: 'string' },
    message: { type: 'string' },
    severity: { enum: ['error', 'warning'] },
    step: { type: 'string' },
    pointer: { type: 'string' },
  },
} as const;

/** The loaded flows: list, compile a candidate, reload from disk. */
export function registerFlowRoutes(app: FastifyInstance, service: Service): void {
  app.get(
    '/v1/flows',
    {
      schema: {
        tags: ['flows'],
        summary: 'The loaded flows',
        response: {
          200: {
            type: 'object',
            required: ['flows'],
            properties: {
              flows: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['name', 'file', 'trigger', 'default', 'steps'],
                  properties: {
                    name: { type: 'string' },
                    file: { type: 'string' },
                    trigger: { enum: ['inbound', 'outbound'] },
                    default: { type: 'boolean' },
                    match: { type: 'object', additionalProperties: true, description: 'What calls the flow takes (destination, context, domain patterns).' },
                    steps: { type: 'integer' },
                  },
                },
              },
            },
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => ({
      flows: service.flows.all().map((p) => ({ name: p.name, file: p.file, trigger: p.trigger, default: p.isDefault, match: p.match, steps: p.steps.length })),
    }),
  );

  app.post<{ Body: { yaml: string; file?: string } }>(
    '/v1/flows/validate',
    {
      schema: {
        tags: ['flows'],
        summary: 'Compile a flow and return its diagnostics',
        description: 'Nothing is loaded: this is `switchboard validate` over HTTP.',
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['yaml'],
          properties: { yaml: { type: 'string', maxLength: 512 * 1024, description: 'The flow text.' }, file: { type: 'string', maxLength: 256, description: 'File name shown in diagnostics.' } },
        },
        response: { 200: { type: 'object', required: ['ok', 'diagnostics'], properties: { ok: { type: 'boolean' }, diagnostics: { type: 'array', items: diagnostic } } }, ...ERROR_RESPONSES },
      },
    },
    async (req) => {
      const { plan, diagnostics } = compileFlow(req.body.yaml, req.body.file ?? 'request.yaml', service.plugins);
      return { ok: plan !== undefined, diagnostics };
    },
  );

  app.post(
    '/v1/flows/reload',
    {
      schema: {
        tags: ['flows'],
        summary: 'Reload the flows from disk',
        description: 'Like SIGHUP: a set with errors is refused (422) and the flows in use stay.',
        body: { type: 'object', additionalProperties: false, properties: {} },
        response: {
          200: { type: 'object', required: ['ok', 'flows', 'diagnostics'], properties: { ok: { type: 'boolean' }, flows: { type: 'array', items: { type: 'string' } }, diagnostics: { type: 'array', items: diagnostic } } },
          422: { type: 'object', required: ['ok', 'flows', 'diagnostics'], properties: { ok: { type: 'boolean' }, flows: { type: 'array', items: { type: 'string' } }, diagnostics: { type: 'array', items: diagnostic } } },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (_req, reply) => {
      const r = service.reload();
      return reply.code(r.ok ? 200 : 422).send({ ok: r.ok, flows: r.plans.map((p) => p.name), diagnostics: r.diagnostics });
    },
  );
}
