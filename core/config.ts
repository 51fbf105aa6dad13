import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApiKeys, type ApiKey } from './api/api-keys.ts';
import { sbError } from './errors.ts';

/** Every setting Switchboard reads, with its environment variable and default. Documented in README and deploy/.env.example. */
export interface Config {
  esl: { host: string; port: number; password: string; reconnectMaxMs: number; commandTimeoutMs: number };
  outbound: { host: string; port: number };
  http: { host: string; port: number };
  /** /health and /metrics on their own listener (SB_OPS_PORT), or on the HTTP server when port is undefined. */
  ops: { host: string; port: number | undefined };
  /** JWT bearer tokens accepted beside API keys (core/api/jwt-auth.ts); undefined when not configured. */
  jwt: JwtConfig | undefined;
  /** Finished calls kept for GET /v1/calls: in Redis with REDIS_URL (retention), else in memory (count). */
  callHistory: { max: number; retentionSec: number };
  /** The websocket server mod_audio_stream connects to (Nova steps). */
  media: { host: string; port: number; publicUrl: string | undefined; secret: string | undefined };
  /** Amazon Nova Sonic through Bedrock: region and credentials come from the standard AWS chain; endpoint only for tests. */
  nova: { region: string | undefined; endpoint: string | undefined };
  logLevel: string;
  /** SIGTERM/SIGINT: how long an orderly stop may take before the process exits anyway (below systemd's TimeoutStopSec). */
  shutdownTimeoutMs: number;
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
  /**
   * Audio conversion (core/audio): the folders request paths must stay in (undefined: the
   * recordings and sounds folders), sox processes at once, the time one conversion may take,
   * tries for transient failures, the sox binary.
   */
  audio: { roots: string[] | undefined; concurrency: number; timeoutMs: number; attempts: number; sox: string };
  /** Queues a worker works on (SB_WORKER_QUEUES); undefined: the command's own default (worker: calls; start always dials calls and converts audio unless the list leaves it out). */
  workerQueues: WorkerQueue[] | undefined;
  /** Batches (campaigns, POST /v1/batches): rows a batch may hold, and the largest request body (JSON or CSV) in bytes. */
  batch: { maxRows: number; maxBytes: number };
  /** Status webhooks of outbound calls (core/webhooks): signing secrets (several while rotating), delivery timeout, attempts, first retry delay, parallel deliveries. */
  webhooks: { secrets: string[]; timeoutMs: number; attempts: number; backoffMs: number; concurrency: number };
}

/** One key source: an HS256 secret, an RS256 PEM public key file, or a JWKS file. */
export interface JwtConfig {
  secret: string | undefined;
  publicKeyFile: string | undefined;
  jwksFile: string | undefined;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
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
    ops: { host: str(env, 'SB_OPS_HOST', str(env, 'SB_HTTP_HOST', '127.0.0.1')), port: env.SB_OPS_PORT ? port(env, 'SB_OPS_PORT', 0) : undefined },
    jwt: jwtConfig(env),
    callHistory: { max: int(env, 'SB_CALL_HISTORY_MAX', 10_000), retentionSec: int(env, 'SB_CALL_HISTORY_RETENTION_SEC', 7 * 24 * 3600) },
    media: {
      host: str(env, 'SB_MEDIA_HOST', '127.0.0.1'),
      port: port(env, 'SB_MEDIA_PORT', 8090),
      publicUrl: env.SB_MEDIA_PUBLIC_URL || undefined,
      secret: env.SB_MEDIA_SECRET || undefined,
    },
    nova: { region: env.SB_NOVA_REGION || env.AWS_REGION || undefined, endpoint: env.SB_NOVA_ENDPOINT || undefined },
    logLevel: str(env, 'SB_LOG_LEVEL', 'info'),
    shutdownTimeoutMs: int(env, 'SB_SHUTDOWN_TIMEOUT_MS', 25_000),
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
    audio: audioConfig(env),
    workerQueues: parseWorkerQueues(env.SB_WORKER_QUEUES),
    batch: { maxRows: int(env, 'SB_BATCH_MAX_ROWS', 100_000), maxBytes: int(env, 'SB_BATCH_MAX_BYTES', 16 * 1024 * 1024) },
    webhooks: {
      secrets: webhookSecrets(env.SB_WEBHOOK_SECRET),
      timeoutMs: int(env, 'SB_WEBHOOK_TIMEOUT_MS', 5000),
      attempts: positive(env, 'SB_WEBHOOK_ATTEMPTS', 10),
      backoffMs: int(env, 'SB_WEBHOOK_BACKOFF_MS', 1000),
      concurrency: positive(env, 'SB_WEBHOOK_CONCURRENCY', 20),
    },
  };
}

/** `SB_WEBHOOK_SECRET=new,old`: every delivery is signed with each, so receivers can move from one to the other. */
function webhookSecrets(text: string | undefined): string[] {
  const secrets = (text ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  // Same floor as an HMAC key should have: a short secret can be brute-forced from one signed delivery.
  if (secrets.some((s) => Buffer.byteLength(s) < 16)) throw sbError('SB_CONFIG_INVALID', 'each SB_WEBHOOK_SECRET must be at least 16 bytes (openssl rand -hex 32)');
  return secrets;
}

function positive(env: Env, name: string, fallback: number): number {
  const n = int(env, name, fallback);
  if (n < 1) throw sbError('SB_CONFIG_INVALID', `${name}=${n} must be at least 1`);
  return n;
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

/**
 * JWT settings: exactly one key source, and issuer and audience always (a token minted for
 * another service or by another issuer must never pass).
 */
function jwtConfig(env: Env): JwtConfig | undefined {
  const secret = env.SB_JWT_SECRET || undefined;
  const publicKeyFile = env.SB_JWT_PUBLIC_KEY_FILE || undefined;
  const jwksFile = env.SB_JWT_JWKS_FILE || undefined;
  const sources = [secret, publicKeyFile, jwksFile].filter((v) => v !== undefined).length;
  if (sources === 0) return undefined;
  if (sources > 1) throw sbError('SB_CONFIG_INVALID', 'set only one of SB_JWT_SECRET, SB_JWT_PUBLIC_KEY_FILE, SB_JWT_JWKS_FILE');
  // RFC 7518 §3.2: an HS256 key is at least as long as the hash (32 bytes).
  if (secret !== undefined && Buffer.byteLength(secret) < 32) throw sbError('SB_CONFIG_INVALID', 'SB_JWT_SECRET must be at least 32 bytes');
  for (const [name, file] of [['SB_JWT_PUBLIC_KEY_FILE', publicKeyFile], ['SB_JWT_JWKS_FILE', jwksFile]] as const) {
    if (file !== undefined && !existsSync(file)) throw sbError('SB_CONFIG_INVALID', `${name} ${file} does not exist`);
  }
  const issuer = env.SB_JWT_ISSUER || undefined;
  const audience = env.SB_JWT_AUDIENCE || undefined;
  if (issuer === undefined || audience === undefined) throw sbError('SB_CONFIG_INVALID', 'JWT auth needs SB_JWT_ISSUER and SB_JWT_AUDIENCE');
  return { secret, publicKeyFile, jwksFile, issuer, audience, clockToleranceSec: int(env, 'SB_JWT_CLOCK_TOLERANCE_SEC', 30) };
}

export type WorkerQueue = 'calls' | 'audio';

function audioConfig(env: Env): Config['audio'] {
  const roots = str(env, 'SB_AUDIO_ROOTS', '').split(':').filter(Boolean).map((r) => resolve(r));
  const concurrency = int(env, 'SB_AUDIO_CONCURRENCY', availableParallelism());
  const attempts = int(env, 'SB_AUDIO_ATTEMPTS', 3);
  if (concurrency < 1) throw sbError('SB_CONFIG_INVALID', 'SB_AUDIO_CONCURRENCY must be at least 1');
  if (attempts < 1) throw sbError('SB_CONFIG_INVALID', 'SB_AUDIO_ATTEMPTS must be at least 1');
  return { roots: roots.length > 0 ? roots : undefined, concurrency, timeoutMs: int(env, 'SB_AUDIO_TIMEOUT_MS', 600_000), attempts, sox: str(env, 'SB_AUDIO_SOX', 'sox') };
}

/** `SB_WORKER_QUEUES=calls,audio` (and `switchboard worker --queues`). */
export function parseWorkerQueues(text: string | undefined): WorkerQueue[] | undefined {
  if (!text) return undefined;
  const names = text.split(',').map((q) => q.trim()).filter(Boolean);
  const bad = names.find((q) => q !== 'calls' && q !== 'audio');
  if (bad !== undefined || names.length === 0) throw sbError('SB_CONFIG_INVALID', `SB_WORKER_QUEUES=${text}: list calls and/or audio`);
  return [...new Set(names as WorkerQueue[])];
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
