import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Service } from '../service.ts';
import { registerRestApi } from './rest.ts';

/** HTTP: health and Prometheus metrics (unauthenticated) and the REST API under /v1 (API keys). */
export class HttpServer {
  readonly app: FastifyInstance;

  constructor(private readonly options: { service: Service; logger: Logger }) {
    this.app = Fastify({ loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
    const { service } = options;
    this.app.get('/health', async (_req, reply) => {
      const esl = service.esl?.connected ?? false;
      const body = { status: esl ? 'ok' : 'degraded', esl: { connected: esl }, flows: service.flows?.all().length ?? 0, calls: service.server?.calls.size ?? 0 };
      return reply.code(esl ? 200 : 503).send(body);
    });
    this.app.get('/metrics', async (_req, reply) => {
      const registry = service.metrics.registry;
      return reply.type(registry.contentType).send(await registry.metrics());
    });
    registerRestApi(this.app, service);
  }

  async start(host: string, port: number): Promise<string> {
    return this.app.listen({ host, port });
  }

  get port(): number {
    const a = this.app.server.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}
