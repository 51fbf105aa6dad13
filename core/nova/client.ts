/**
 * The Bedrock Runtime client Nova sessions run on. One client serves every call: the SDK opens
 * an HTTP/2 connection per bidirectional stream anyway, and credentials and endpoint resolution
 * are shared.
 */
import { BedrockRuntimeClient, type BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler } from '@smithy/node-http-handler';
import type { Logger } from '../log.ts';
import { bedrockStreamSerde, signedEventStream } from './stream-serde.ts';

export interface NovaClientOptions {
  /** Default: the AWS chain (AWS_REGION, the profile's region). */
  region?: string;
  /** e.g. a VPC endpoint, or a local emulator ('http://127.0.0.1:<port>' is spoken as h2c). */
  endpoint?: string;
  /** Default: the standard AWS credential chain (env, SSO, profile, container/instance role). */
  credentials?: BedrockRuntimeClientConfig['credentials'];
  logger: Logger;
  /**
   * The SDK's stream inactivity timeout. It only fires when neither side sends anything, so it
   * cannot see a model that stalls while audio is flowing (NovaSession runs its own watchdog
   * for that). Default: none.
   */
  requestTimeoutMs?: number;
  /** Idle timeout of an HTTP/2 connection, ms. Default: the SDK's. */
  sessionTimeoutMs?: number;
}

type SdkLogger = NonNullable<BedrockRuntimeClientConfig['logger']>;

/**
 * The SDK logs through this. It warns "An error was encountered in a non-retryable streaming
 * request." for every stream that fails before its first event, and logs each command at info;
 * NovaSession reports those failures itself with a code, so both go to debug.
 */
export function sdkLogger(log: Logger): SdkLogger {
  const child = log.child({ component: 'aws-sdk' });
  const at = (level: 'debug' | 'warn' | 'error') => (...content: unknown[]): void => {
    const [first, ...rest] = content;
    let lvl = level;
    if (level === 'warn' && typeof first === 'string' && first.includes('non-retryable streaming request')) lvl = 'debug';
    if (!child.isLevelEnabled(lvl)) return;
    if (typeof first === 'string') child[lvl](rest.length ? { detail: rest } : {}, first);
    else child[lvl]({ detail: content }, 'aws-sdk');
  };
  return { trace: at('debug'), debug: at('debug'), info: at('debug'), warn: at('warn'), error: at('error') };
}

export function createNovaClient(options: NovaClientOptions): BedrockRuntimeClient {
  const config: BedrockRuntimeClientConfig = {
    logger: sdkLogger(options.logger),
    // A bidirectional stream cannot be retried by the SDK (its input is consumed); the caller
    // decides what a failed call does (on_error), so the SDK makes one attempt.
    maxAttempts: 1,
    // The same bytes as the SDK's event-stream code, for a fraction of the CPU (stream-serde.ts).
    eventStreamSerdeProvider: bedrockStreamSerde,
    eventStreamPayloadHandlerProvider: signedEventStream,
    requestHandler: new NodeHttp2Handler({
      requestTimeout: options.requestTimeoutMs,
      sessionTimeout: options.sessionTimeoutMs,
      disableConcurrentStreams: true,
    }),
  };
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.credentials !== undefined) config.credentials = options.credentials;
  return new BedrockRuntimeClient(config);
}
