import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../log.ts';
import type { Service } from '../service.ts';
import { registerOpenApi } from './openapi.ts';
import { registerOpsMetrics, registerOpsRoutes } from './ops-routes.ts';
import { RedisProbe } from './redis-probe.ts';
import { registerRestApi } from './rest.ts';

/** Request bodies larger than this are refused with 413 SB_API_TOO_LARGE. */
export const BODY_LIMIT = 1024 * 1024;

/**
 * HTTP: the REST API under /v1 (API keys or JWT), its OpenAPI document and UI at /docs, and the
 * unauthenticated /health and /metrics, on this server or on a listener of their own
 * (SB_OPS_HOST / SB_OPS_PORT).
 */
export class HttpServer {
  readonly app: FastifyInstance;
  /** The separate /health and /metrics listener, when SB_OPS_PORT is set. */
  readonly ops: FastifyInstance | undefined;
  private readonly probe: RedisProbe | undefined;
  private readonly dropMetrics: () => void;

  constructor(private readonly options: { service: Service; logger: Logger }) {
    const { service } = options;
    const loggerInstance = options.logger.child({ component: 'http' }) as FastifyBaseLogger;
    this.app = Fastify({ loggerInstance, bodyLimit: BODY_LIMIT });
    this.probe = service.config.redisUrl ? new RedisProbe(service.config.redisUrl, service.config.queue.prefix) : undefined;
    // First: the OpenAPI generator sees only the routes registered after it.
    registerOpenApi(this.app);
    if (service.config.ops.port !== undefined) {
      this.ops = Fastify({ loggerInstance });
      registerOpsRoutes(this.ops, service, this.probe);
    } else {
      this.app.register(async (scope) => registerOpsRoutes(scope, service, this.probe));
    }
    this.app.register(async (api) => registerRestApi(api, service));
    this.app.setNotFoundHandler((req, reply) => reply.code(404).send({ code: 'SB_API_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` }));
    this.dropMetrics = registerOpsMetrics(service, this.probe);
  }

  async start(host: string, port: number): Promise<string> {
    const url = await this.app.listen({ host, port });
    const ops = this.options.service.config.ops;
    if (this.ops && ops.port !== undefined) await this.ops.listen({ host: ops.host, port: ops.port });
    return url;
  }

  get port(): number {
    return portOf(this.app);
  }

  /** Where /health and /metrics are: the ops listener's port, else the HTTP port. */
  get opsPort(): number {
    return this.ops ? portOf(this.ops) : this.port;
  }

  /**
   * Requests in flight get CLOSE_GRACE_MS to finish; then every connection still open is cut. A
   * client that holds a request open (half-sent headers, a stalled upload) would otherwise keep
   * the service from stopping for as long as Node's header timeout (a minute).
   */
  async close(): Promise<void> {
    const servers = [this.ops, this.app].filter((a): a is FastifyInstance => a !== undefined);
    const cut = setTimeout(() => {
      for (const a of servers) a.server.closeAllConnections();
    }, CLOSE_GRACE_MS);
    try {
      await Promise.all(servers.map((a) => a.close()));
    } finally {
      clearTimeout(cut);
    }
    this.dropMetrics();
    await this.probe?.close();
  }
}

const CLOSE_GRACE_MS = 2000;

function portOf(app: FastifyInstance): number {
  const a = app.server.address();
  return typeof a === 'object' && a !== null ? a.port : 0;
}
