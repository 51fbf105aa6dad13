import type { Config } from '../config.ts';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics.ts';
import { AudioConverter } from './converter.ts';
import { AudioQueue, type AudioJobKind } from './queue.ts';
import type { AudioRequest, ConvertRequest } from './request.schema.ts';
import type { ConvertResult } from './result.schema.ts';
import { AudioWorker } from './worker.ts';

/** What flow steps may do with audio (StepServices.audio). */
export interface AudioService {
  /** Converts now on this host (at most SB_AUDIO_CONCURRENCY sox processes); paths inside the audio roots. */
  convert(request: ConvertRequest, signal?: AbortSignal): Promise<ConvertResult>;
  /** Queues a conversion or a batch for a worker; SB_AUDIO_UNAVAILABLE without Redis. */
  enqueue(request: AudioRequest): Promise<{ jobId: string; kind: AudioJobKind }>;
  /** A request path made absolute (relative ones are under the first audio root); SB_AUDIO_OUTSIDE_ROOTS when it is outside. */
  absolute(path: string): string;
}

/** The audio roots: SB_AUDIO_ROOTS, else the recordings and the sounds folders (relative paths go under the first). */
export function audioRoots(config: Config): string[] {
  return config.audio.roots ?? [config.recordingsDir, config.soundsDir];
}

/** The converter the configuration describes. */
export function audioConverter(config: Config, logger: Logger): AudioConverter {
  return new AudioConverter({ sox: config.audio.sox, roots: audioRoots(config), concurrency: config.audio.concurrency, timeoutMs: config.audio.timeoutMs, logger });
}

/**
 * The audio part of a running service: the converter (inline conversions from flows), the
 * producer with Redis, and a worker when this process serves the `audio` queue. A missing sox
 * stops the start only when a worker would need it; otherwise it is logged once and each
 * conversion fails with the same SB_AUDIO_CONVERTER_MISSING.
 */
export class AudioRuntime implements AudioService {
  private constructor(
    readonly converter: AudioConverter,
    readonly queue: AudioQueue | undefined,
    readonly worker: AudioWorker | undefined,
  ) {}

  static async start(options: { config: Config; logger: Logger; metrics?: Metrics; worker: boolean }): Promise<AudioRuntime> {
    const { config, logger } = options;
    const converter = audioConverter(config, logger);
    try {
      await converter.start();
    } catch (err) {
      if (options.worker && config.redisUrl) throw err;
      logger.error({ code: isSwitchboardError(err) ? err.code : undefined }, (err as Error).message);
    }
    const queue = config.redisUrl ? new AudioQueue({ connection: config.redisUrl, prefix: config.queue.prefix, logger, paths: converter.paths, attempts: config.audio.attempts }) : undefined;
    let worker: AudioWorker | undefined;
    if (config.redisUrl && options.worker) {
      worker = new AudioWorker({ connection: config.redisUrl, prefix: config.queue.prefix, converter, logger, metrics: options.metrics, attempts: config.audio.attempts });
      await worker.start();
    }
    return new AudioRuntime(converter, queue, worker);
  }

  convert(request: ConvertRequest, signal?: AbortSignal): Promise<ConvertResult> {
    return this.converter.convert(request, { signal });
  }

  enqueue(request: AudioRequest): Promise<{ jobId: string; kind: AudioJobKind }> {
    if (!this.queue) return Promise.reject(new SwitchboardError('SB_AUDIO_UNAVAILABLE', ['queued conversions need Redis (REDIS_URL)']));
    return this.queue.add(request);
  }

  absolute(path: string): string {
    return this.converter.paths.absolute(path);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }
}
