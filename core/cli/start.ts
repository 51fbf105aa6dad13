import { Command } from 'commander';
import { loadConfig, loadDotEnv } from '../config.ts';
import { createLogger } from '../log.ts';
import { Service } from '../service.ts';
import { stopOnSignals } from './stop-signals.ts';

export function startCommand(): Command {
  return new Command('start')
    .description('run the service: connect to FreeSWITCH, accept its calls, run flows')
    .action(async () => {
      loadDotEnv();
      const config = loadConfig();
      const log = createLogger(config.logLevel);
      const service = new Service({ config, logger: log });
      try {
        await service.start();
      } catch (err) {
        log.fatal({ code: (err as { code?: string }).code, err: (err as Error).message }, 'could not start');
        await service.close().catch(() => {});
        process.exit(1);
      }
      log.info({ esl: `${config.esl.host}:${config.esl.port}`, outbound: service.outboundAddress, http: `${config.http.host}:${config.http.port}` }, 'switchboard is running');
      process.on('SIGHUP', () => service.reload());
      stopOnSignals(log, 'finishing calls in progress', () => service.close(), config.shutdownTimeoutMs);
    });
}
