import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FastifyInstance } from 'fastify';
import { SwitchboardError } from '../errors.ts';

/** Where a request value is, in OpenAPI's words. */
export type ParameterIn = 'body' | 'query' | 'path' | 'header';

const PART: Record<string, ParameterIn> = { body: 'body', querystring: 'query', params: 'path', headers: 'header' };

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON pointer and a sentence for one ajv error. */
export function describeAjvError(err: ErrorObject): { pointer: string; message: string } {
  const params = err.params as Record<string, unknown>;
  let pointer = err.instancePath;
  let message = err.message ?? 'is invalid';
  switch (err.keyword) {
    case 'required':
      pointer += `/${escapePointer(String(params.missingProperty))}`;
      message = 'is required';
      break;
    case 'additionalProperties':
      pointer += `/${escapePointer(String(params.additionalProperty))}`;
      message = 'is not a known field';
      break;
    case 'enum':
      message = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
      break;
  }
  return { pointer: pointer || '/', message };
}

/**
 * A fastify validation failure as the API's 400: SB_API_BAD_REQUEST with the JSON pointer of the
 * offending value (into the body; for a query, path or header parameter, `in` says which).
 */
export function validationFailure(errors: readonly ErrorObject[], context: string | undefined): SwitchboardError {
  const where = PART[context ?? 'body'] ?? 'body';
  const problems = errors.map(describeAjvError);
  const first = problems[0] ?? { pointer: '/', message: 'is invalid' };
  const subject = where === 'body' ? (first.pointer === '/' ? 'the body' : first.pointer) : `${where} parameter "${first.pointer.slice(1)}"`;
  return new SwitchboardError('SB_API_BAD_REQUEST', [`${subject} ${first.message}`], { pointer: first.pointer, ...(where !== 'body' ? { in: where } : {}), problems });
}

/**
 * The REST API's request validators. Bodies are checked as sent: no type coercion and no
 * silent removal of unknown fields (fastify's defaults), so `"attempts": "3"` and an unknown
 * field are 400s, never quietly "fixed". Query strings, path and headers are text by nature:
 * there numbers and booleans are coerced.
 */
export function useRequestValidators(app: FastifyInstance): void {
  const options = { strict: false, allErrors: false, useDefaults: true, removeAdditional: false } as const;
  const body = new Ajv({ ...options, coerceTypes: false });
  const text = new Ajv({ ...options, coerceTypes: 'array' });
  let shared = false;
  app.setValidatorCompiler(({ schema, httpPart }): ValidateFunction => {
    if (!shared) {
      // Shared schemas ($ref targets) are all added before the first route compiles.
      for (const s of Object.values(app.getSchemas())) {
        body.addSchema(s as object);
        text.addSchema(s as object);
      }
      shared = true;
    }
    return (httpPart === 'body' ? body : text).compile(schema as object);
  });
}
