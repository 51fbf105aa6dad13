// The REST API test rig: a real Service (HTTP on port 0) against the FreeSWITCH simulator and,
// unless told otherwise, a real redis-server; flows written to a temporary directory; one API
// key. Shared by the core/api tests so none of them copies this set-up.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../core/config.ts';
import { silentLogger } from '../../core/log.ts';
import { Service } from '../../core/service.ts';
import { newApiKey } from '../../core/api/api-keys.ts';
import { FreeSwitchSim } from './freeswitch-sim/index.ts';
import { startRedisServer, type RedisServer } from './redis-server.ts';

export interface ApiRig {
  sim: FreeSwitchSim;
  redis: RedisServer | undefined;
  service: Service;
  /** `http://127.0.0.1:<port>` of the REST API. */
  base: string;
  /** Where /health and /metrics are (the same as base unless SB_OPS_PORT is set). */
  opsBase: string;
  /** The flows directory. */
  dir: string;
  /** The API key in clear and headers that carry it (JSON content type included). */
  key: string;
  auth: Record<string, string>;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** A string body is sent as is; anything else as JSON. */
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export interface ApiRigOptions {
  /** File name → YAML. */
  flows?: Record<string, string>;
  /** Extra settings (SB_*), over the rig's. */
  env?: Record<string, string>;
  /** Start redis-server and set REDIS_URL (default true). */
  redis?: boolean;
  /** SB_QUEUE_PREFIX, so tests sharing nothing also share no keys. */
  prefix?: string;
  timeScale?: number;
}

export const REMINDER_FLOW = 'name: reminder\ntrigger: outbound\nsteps:\n  - wait: 0.2\n  - hangup\n';
export const LOBBY_FLOW = 'name: lobby\nmatch: { destination: ["7000"] }\nsteps:\n  - id: hold\n    park: { timeout: 30 }\n    on: { answered: hi }\n  - hangup: CALL_REJECTED\n  - id: hi\n    hangup: NORMAL_CLEARING\n';

export async function startApiRig(options: ApiRigOptions = {}): Promise<ApiRig> {
  const redis = options.redis === false ? undefined : await startRedisServer();
  const sim = await FreeSwitchSim.start({ timeScale: options.timeScale ?? 0.01 });
  const dir = mkdtempSync(join(tmpdir(), 'sb-api-'));
  for (const [file, yaml] of Object.entries(options.flows ?? { 'reminder.yaml': REMINDER_FLOW, 'lobby.yaml': LOBBY_FLOW })) writeFileSync(join(dir, file), yaml);
  const ops = newApiKey('ops');
  const service = new Service({
    config: loadConfig({
      SB_ESL_PORT: String(sim.port),
      SB_OUTBOUND_PORT: '0',
      SB_HTTP_PORT: '0',
      SB_MEDIA_PORT: '0',
      SB_FLOWS_DIR: dir,
      SB_QUEUE_PREFIX: options.prefix ?? 'api',
      SB_API_KEYS: `${newApiKey('other').entry},${ops.entry}`,
      ...(redis ? { REDIS_URL: redis.url } : {}),
      ...options.env,
    }),
    logger: silentLogger,
  });
  try {
    await service.start();
  } catch (err) {
    await service.close().catch(() => {});
    await sim.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const base = `http://127.0.0.1:${service.http?.port}`;
  const auth = { authorization: `Bearer ${ops.key}`, 'content-type': 'application/json' };
  return {
    sim,
    redis,
    service,
    base,
    opsBase: `http://127.0.0.1:${service.http?.opsPort}`,
    dir,
    key: ops.key,
    auth,
    get: (path, headers = auth) => fetch(`${base}${path}`, { headers }),
    post: (path, body, headers = auth) => fetch(`${base}${path}`, { method: 'POST', headers, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) }),
    close: async () => {
      await service.close();
      await sim.close();
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
