import { Command } from 'commander';
import { ENGINE_VERSION } from '../version.ts';
import { apiKeyCommand } from './api-key.ts';
import { callCommand } from './call.ts';
import { demoCommand } from './demo.ts';
import { pluginsCommand } from './plugins.ts';
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
program.addCommand(apiKeyCommand());
program.addCommand(simulateCommand());

await program.parseAsync(process.argv);
