/** A Bedrock Runtime client pointed at the emulator, configured as shared/fixtures/nova/README.md says. */
import { BedrockRuntimeClient, type BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttp2Handler } from '@smithy/node-http-handler';

export interface NovaClientOptions {
  /** Default 'us-east-1'. */
  region?: string;
  /**
   * NodeHttp2Handler requestTimeout: the stream is failed with TimeoutError after this long with
   * no activity in either direction. Default none.
   */
  requestTimeout?: number;
  /** NodeHttp2Handler sessionTimeout: idle timeout of the connection (the SDK's own default is 300 s). */
  sessionTimeout?: number;
  /**
   * The SDK's logger. Default: silent. (Without one the SDK writes "An error was encountered in a
   * non-retryable streaming request." to the console for every stream that fails before its first event.)
   */
  logger?: Logger;
}

type Logger = NonNullable<BedrockRuntimeClientConfig['logger']>;

const SILENT: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function novaClient(endpoint: string, options: NovaClientOptions = {}): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    region: options.region ?? 'us-east-1',
    endpoint,
    credentials: { accessKeyId: 'emulator', secretAccessKey: 'emulator' },
    maxAttempts: 1,
    logger: options.logger ?? SILENT,
    requestHandler: new NodeHttp2Handler({ requestTimeout: options.requestTimeout, sessionTimeout: options.sessionTimeout }),
  });
}
