import { AudioRuntime } from '../audio/index.ts';
import type { Config } from '../config.ts';
import { isSwitchboardError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { stopOnSignals } from './stop-signals.ts';
import { Metrics } from '../metrics.ts';

/**
 * The `audio` part of `switchboard worker`: converts queued audio jobs on this host (where the
 * recordings are), within the audio roots. Without sox it exits 1 naming the Debian package.
 * Alone (`--queues audio`) it needs no event socket and stops on SIGTERM/SIGINT itself.
 */
export async function startAudioWorker(config: Config, log: Logger, alone: boolean): Promise<AudioRuntime> {
  let audio: AudioRuntime;
  try {
    audio = await AudioRuntime.start({ config, logger: log, metrics: new Metrics(), worker: true });
  } catch (err) {
    log.fatal({ code: isSwitchboardError(err) ? err.code : undefined }, (err as Error).message);
    process.exit(1);
  }
  log.info({ roots: audio.converter.paths.roots, concurrency: audio.converter.concurrency }, 'switchboard audio worker is running');
  if (alone) {
    stopOnSignals(log, 'finishing the audio jobs in hand', () => audio.close(), config.shutdownTimeoutMs);
  }
  return audio;
}
