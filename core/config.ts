import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApiKeys, type ApiKey } from './api/api-keys.ts';
import { sbError } from './errors.ts';

/** Every setting Switchboard reads, with its environment variable and default. Documented in README and deploy/.env.example. */
export interface Config {
  esl: { host: string; port: number; password: string; reconnectMaxMs: number; commandTimeoutMs: number };
  outbound: { host: string; port: number };
  http: { host: string; port: number };
  /** The websocket server mod_audio_stream connects to (Nova steps). */
  media: { host: string; port: number; publicUrl: string | undefined; secret: string | undefined };
  /** Amazon Nova Sonic through Bedrock: region and credentials come from the standard AWS chain; endpoint only for tests. */
  nova: { region: string | undefined; endpoint: string | undefined };
  logLevel: string;
  flowsDir: string;
  /** Where relative sound paths in flows point, as FreeSWITCH sees the file system. */
  soundsDir: string;
  /** Where `record` writes relative paths, as FreeSWITCH sees the file system. */
  recordingsDir: string;
  /** Extra plugin directories or npm package names (besides the bundled plugins/), separated by ':'. */
  pluginDirs: string[];
  redisUrl: string | undefined;
  /** REST API keys (hashed); with none configured the /v1 API refuses every request. */
  apiKeys: ApiKey[];
  /** Outbound calls (core/queue): pacing shared by every worker through Redis. */
  queue: { prefix: string; cps: number; maxConcurrent: number; defaultGateway: string | undefined; perGateway: Record<string, { cps: number; maxConcurrent: number }> };
}

export const DEFAULT_ESL_PASSWORD = 'ClueCon';
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): Config {
  return {
    esl: {
      host: str(env, 'SB_ESL_HOST', '127.0.0.1'),
      port: port(env, 'SB_ESL_PORT', 8021),
      password: str(env, 'SB_ESL_PASSWORD', DEFAULT_ESL_PASSWORD),
      reconnectMaxMs: int(env, 'SB_ESL_RECONNECT_MAX_MS', 10_000),
      commandTimeoutMs: int(env, 'SB_ESL_TIMEOUT_MS', 10_000),
    },
    outbound: { host: str(env, 'SB_OUTBOUND_HOST', '127.0.0.1'), port: port(env, 'SB_OUTBOUND_PORT', 8084) },
    http: { host: str(env, 'SB_HTTP_HOST', '127.0.0.1'), port: port(env, 'SB_HTTP_PORT', 8080) },
    media: {
      host: str(env, 'SB_MEDIA_HOST', '127.0.0.1'),
      port: port(env, 'SB_MEDIA_PORT', 8090),
      publicUrl: env.SB_MEDIA_PUBLIC_URL || undefined,
      secret: env.SB_MEDIA_SECRET || undefined,
    },
    nova: { region: env.SB_NOVA_REGION || env.AWS_REGION || undefined, endpoint: env.SB_NOVA_ENDPOINT || undefined },
    logLevel: str(env, 'SB_LOG_LEVEL', 'info'),
    flowsDir: str(env, 'SB_FLOWS_DIR', 'flows'),
    soundsDir: str(env, 'SB_SOUNDS_DIR', resolve(PROJECT_ROOT, 'flows/sounds')),
    recordingsDir: str(env, 'SB_RECORDINGS_DIR', '/var/lib/switchboard/recordings'),
    pluginDirs: [resolve(PROJECT_ROOT, 'plugins'), ...str(env, 'SB_PLUGIN_DIRS', '').split(':').filter(Boolean)],
    redisUrl: env.REDIS_URL || undefined,
    apiKeys: loadApiKeys(env),
    queue: {
      prefix: str(env, 'SB_QUEUE_PREFIX', 'sb'),
      cps: int(env, 'SB_CPS', 10),
      maxConcurrent: int(env, 'SB_MAX_CONCURRENT', 50),
      defaultGateway: env.SB_DEFAULT_GATEWAY || undefined,
      perGateway: gatewayLimits(env.SB_GATEWAY_LIMITS),
    },
  };
}

/** Reads `.env` from the working directory into process.env (existing variables win). */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

/** Warnings an operator must see at start-up, e.g. the default ESL password on a non-loopback host. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.esl.password === DEFAULT_ESL_PASSWORD && !isLoopback(config.esl.host)) {
    warnings.push(
      `SB_ESL_PASSWORD is the FreeSWITCH default "${DEFAULT_ESL_PASSWORD}" while SB_ESL_HOST=${config.esl.host} is not a loopback address: ` +
        'anyone who reaches that port controls your PBX. Set a strong password in event_socket.conf.xml and SB_ESL_PASSWORD.',
    );
  }
  return warnings;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** `SB_GATEWAY_LIMITS={"trunk1":{"cps":2,"maxConcurrent":20}}` */
function gatewayLimits(text: string | undefined): Record<string, { cps: number; maxConcurrent: number }> {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw sbError('SB_CONFIG_INVALID', 'SB_GATEWAY_LIMITS is not JSON');
  }
  const out: Record<string, { cps: number; maxConcurrent: number }> = {};
  for (const [gw, v] of Object.entries((parsed ?? {}) as Record<string, { cps?: unknown; maxConcurrent?: unknown }>)) {
    if (typeof v?.cps !== 'number' || typeof v.maxConcurrent !== 'number' || v.cps <= 0 || v.maxConcurrent <= 0) {
      throw sbError('SB_CONFIG_INVALID', `SB_GATEWAY_LIMITS.${gw} needs positive numbers cps and maxConcurrent`);
    }
    out[gw] = { cps: v.cps, maxConcurrent: v.maxConcurrent };
  }
  return out;
}

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

function int(env: Env, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw sbError('SB_CONFIG_INVALID', `${name}=${v} is not a non-negative integer`);
  return n;
}

function port(env: Env, name: string, fallback: number): number {
  const n = int(env, name, fallback);
  if (n > 65535) throw sbError('SB_CONFIG_INVALID', `${name}=${n} is not a TCP port`);
  return n;
}
