import { Command } from 'commander';
import { ENGINE_VERSION } from '../version.ts';
import { apiKeyCommand } from './api-key.ts';
import { batchCommand } from './batch.ts';
import { callCommand } from './call.ts';
import { convertCommand } from './convert.ts';
import { demoCommand } from './demo.ts';
import { pluginsCommand } from './plugins.ts';
import { prepareSoundsCommand } from './prepare-sounds.ts';
import { reloadCommand } from './reload.ts';
import { schemaCommand } from './schema.ts';
import { simulateCommand } from './simulate.ts';
import { startCommand } from './start.ts';
import { validateCommand } from './validate.ts';
import { workerCommand } from './worker.ts';

const program = new Command()
  .name('switchboard')
  .description('Call flows in YAML for FreeSWITCH')
  .version(ENGINE_VERSION)
  .showHelpAfterError();

program.addCommand(startCommand());
program.addCommand(demoCommand());
program.addCommand(validateCommand());
program.addCommand(pluginsCommand());
program.addCommand(schemaCommand());
program.addCommand(reloadCommand());
program.addCommand(workerCommand());
program.addCommand(callCommand());
program.addCommand(batchCommand());
program.addCommand(apiKeyCommand());
program.addCommand(simulateCommand());
program.addCommand(convertCommand());
program.addCommand(prepareSoundsCommand());

await program.parseAsync(process.argv);
