// The OpenAPI document at /docs/json is generated from the route schemas: every /v1 route the
// server has (whoever registered it) is in it with its schemas, and the document is valid
// OpenAPI 3. /docs serves Swagger UI, checked in a real headless Chromium.
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../test/support/api-rig.ts';
import { findTool } from '../../test/support/system-tools.ts';

let rig: ApiRig;
let doc: OpenApiDoc;

interface Operation {
  tags?: string[];
  summary?: string;
  security?: unknown[];
  parameters?: Array<{ in: string; name: string; schema: object }>;
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { content?: Record<string, { schema: object }> }>;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, object>; securitySchemes: Record<string, { type: string; scheme?: string }> };
  security: unknown[];
}

beforeAll(async () => {
  rig = await startApiRig({ redis: false });
  const r = await fetch(`${rig.base}/docs/json`);
  expect(r.status).toBe(200);
  doc = (await r.json()) as OpenApiDoc;
}, 30_000);

afterAll(async () => {
  await rig?.close();
});

/** Every route the server has, from fastify's own route tree: `[method, url]`, HEAD left out. */
function serverRoutes(): Array<[string, string]> {
  const tree = rig.service.http!.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const out: Array<[string, string]> = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    stack.push(m[2] as string);
    const url = stack.join('').replace(/\/\//g, '/');
    for (const method of (m[3] ?? '').split(', ').filter((x) => x && x !== 'HEAD')) out.push([method, url]);
  }
  return out;
}

const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The parts of the OpenAPI 3.0 specification a generated document must get right. */
const openApi3 = {
  type: 'object',
  required: ['openapi', 'info', 'paths'],
  properties: {
    openapi: { type: 'string', pattern: '^3\\.0\\.\\d+$' },
    info: { type: 'object', required: ['title', 'version'], properties: { title: { type: 'string' }, version: { type: 'string' } } },
    paths: {
      type: 'object',
      propertyNames: { pattern: '^/' },
      additionalProperties: {
        type: 'object',
        propertyNames: { enum: ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace', 'parameters', 'summary', 'description', 'servers'] },
        additionalProperties: {
          type: 'object',
          required: ['responses'],
          properties: {
            tags: { type: 'array', items: { type: 'string' } },
            parameters: {
              type: 'array',
              items: { type: 'object', required: ['in', 'name'], properties: { in: { enum: ['query', 'header', 'path', 'cookie'] }, name: { type: 'string' }, required: { type: 'boolean' } } },
            },
            requestBody: { type: 'object', required: ['content'] },
            responses: {
              type: 'object',
              minProperties: 1,
              propertyNames: { pattern: '^([1-5][0-9X]{2}|default)$' },
              additionalProperties: { type: 'object', required: ['description'] },
            },
          },
        },
      },
    },
    components: {
      type: 'object',
      properties: {
        schemas: { type: 'object', propertyNames: { pattern: '^[A-Za-z0-9._-]+$' } },
        securitySchemes: { type: 'object', additionalProperties: { type: 'object', required: ['type'], properties: { type: { enum: ['apiKey', 'http', 'oauth2', 'openIdConnect'] } } } },
      },
    },
  },
} as const;

/** Every "$ref" in the document, with where it is. */
function refs(value: unknown, at = '#'): Array<[string, string]> {
  if (Array.isArray(value)) return value.flatMap((v, i) => refs(v, `${at}/${i}`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => (k === '$ref' && typeof v === 'string' ? [[at, v] as [string, string]] : refs(v, `${at}/${k}`)));
}

describe('OpenAPI at /docs/json', () => {
  it('is valid OpenAPI 3: the specification\'s structure, every $ref resolves, every schema compiles', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const valid = ajv.validate(openApi3, doc);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
    for (const [at, ref] of refs(doc)) {
      expect(ref, `${at}`).toMatch(/^#\/components\/schemas\/[A-Za-z0-9._-]+$/);
      expect(doc.components.schemas[ref.split('/').pop() as string], `${at} → ${ref}`).toBeDefined();
    }
    // The components as one schema document, so operation schemas compile with their $refs.
    const schemas = new Ajv({ strict: false });
    schemas.addSchema({ $id: 'doc', components: doc.components });
    const rebase = (s: object): object => JSON.parse(JSON.stringify(s).replace(/"#\/components\//g, '"doc#/components/')) as object;
    let compiled = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const bodies = [...Object.values(op.requestBody?.content ?? {}), ...Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {}))];
        for (const { schema } of bodies) {
          expect(() => schemas.compile(rebase(schema)), `${method} ${path}`).not.toThrow();
          compiled++;
        }
      }
    }
    expect(compiled).toBeGreaterThan(40);
  });

  it('lists every /v1 route the server has, each with tags, a summary, its parameters, body and error responses', () => {
    const routes = serverRoutes().filter(([, url]) => url.startsWith('/v1/'));
    // The routes this API defines; others (batches, audio) are found the same way once registered.
    expect(routes.map(([m, u]) => `${m} ${u}`)).toEqual(
      expect.arrayContaining([
        'POST /v1/calls',
        'GET /v1/calls',
        'GET /v1/calls/:id',
        'POST /v1/calls/:id/answer',
        'POST /v1/calls/:id/hangup',
        'POST /v1/calls/:id/transfer',
        'POST /v1/calls/:id/bridge',
        'GET /v1/rooms',
        'GET /v1/rooms/:name',
        'POST /v1/rooms/:name/members/:id/mute',
        'POST /v1/rooms/:name/members/:id/unmute',
        'POST /v1/rooms/:name/members/:id/kick',
        'GET /v1/flows',
        'POST /v1/flows/validate',
        'POST /v1/flows/reload',
      ]),
    );
    for (const [method, url] of routes) {
      const op = doc.paths[openApiPath(url)]?.[method.toLowerCase()];
      const where = `${method} ${url}`;
      expect(op, where).toBeDefined();
      expect(op?.tags?.length, where).toBeGreaterThan(0);
      expect(op?.summary, where).toBeTruthy();
      expect(Object.keys(op?.responses ?? {}), where).toEqual(expect.arrayContaining(['4XX', '5XX']));
      expect(Object.keys(op?.responses ?? {}).some((c) => c.startsWith('2')), where).toBe(true);
      for (const name of [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1])) {
        expect(op?.parameters?.some((p) => p.in === 'path' && p.name === name), `${where}: path parameter ${name}`).toBe(true);
      }
      if (method === 'POST') expect(op?.requestBody?.content['application/json'], where).toBeDefined();
      // Global bearer security applies (no route below /v1 opts out).
      expect(op?.security, where).toBeUndefined();
    }
  });

  it('POST /v1/calls takes the queue job schema, with the Idempotency-Key header; errors are the Error schema', async () => {
    const { callJobSchema } = await import('../queue/index.ts');
    const post = doc.paths['/v1/calls']?.post;
    expect(post?.requestBody?.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/CallJob' });
    const published = doc.components.schemas.CallJob as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(Object.keys(published.properties).sort()).toEqual(Object.keys(callJobSchema.properties).sort());
    expect(published.required).toEqual([...callJobSchema.required]);
    expect(published.additionalProperties).toBe(false);
    expect(post?.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'idempotency-key' }));
    expect(post?.responses['4XX']?.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.components.schemas.Error).toMatchObject({ required: ['code', 'message'], properties: { pointer: { type: 'string' }, problems: { type: 'array' } } });
  });

  it('declares bearer auth for the API, none for /health and /metrics, and tags', () => {
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/health']?.get?.security).toEqual([]);
    expect(doc.paths['/metrics']?.get?.security).toEqual([]);
    const used = new Set(Object.values(doc.paths).flatMap((ops) => Object.values(ops).flatMap((o) => o.tags ?? [])));
    expect([...used].sort()).toEqual(expect.arrayContaining(['calls', 'flows', 'ops', 'rooms']));
  });

  it('needs no key: /docs and /docs/json are open, /v1 is not', async () => {
    expect((await fetch(`${rig.base}/docs/json`)).status).toBe(200);
    expect((await fetch(`${rig.base}/v1/flows`)).status).toBe(401);
  });
});

// playwright-core drives the Debian chromium package; the import is by name so this file
// type-checks and runs (skipped, saying why) on a machine without it.
/** What the page callbacks touch of a DOM element (this project compiles without the DOM lib). */
interface PageElement {
  getAttribute(name: string): string | null;
  textContent: string | null;
}
interface Browser {
  newPage(): Promise<{ goto(url: string): Promise<unknown>; waitForSelector(s: string, o?: { timeout?: number }): Promise<unknown>; $$eval<T>(s: string, f: (els: PageElement[]) => T): Promise<T> }>;
  close(): Promise<void>;
}
const playwrightName = 'playwright-core';
const playwright = (await import(playwrightName).catch(() => undefined)) as { chromium: { launch(o: object): Promise<Browser> } } | undefined;
const chromium = findTool('chromium');
const missing = !playwright ? 'playwright-core is not installed' : !chromium ? 'chromium is not installed (apt-get install chromium)' : undefined;

describe(`Swagger UI at /docs${missing ? ` — SKIPPED: ${missing}` : ''}`, () => {
  it.skipIf(missing !== undefined)('renders in Chromium with the API\'s routes listed', async () => {
    const browser = await playwright!.chromium.launch({ executablePath: chromium, args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'] });
    try {
      const page = await browser.newPage();
      await page.goto(`${rig.base}/docs`);
      await page.waitForSelector('.opblock-summary-path', { timeout: 15_000 });
      const shown = await page.$$eval('.opblock-summary-path', (els) => els.map((e) => e.getAttribute('data-path') ?? e.textContent ?? ''));
      expect(shown).toEqual(expect.arrayContaining(['/v1/calls', '/v1/calls/{id}', '/v1/rooms/{name}/members/{id}/kick', '/v1/flows/validate', '/health']));
      const title = await page.$$eval('.info .title', (els) => els.map((e) => e.textContent ?? ''));
      expect(title.join(' ')).toContain('Switchboard REST API');
    } finally {
      await browser.close();
    }
  }, 30_000);
});
