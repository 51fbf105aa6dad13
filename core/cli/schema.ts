import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { loadConfig, PROJECT_ROOT } from '../config.ts';
import { composeFlowSchema } from '../flow/schema.ts';
import { PluginHost } from '../plugins/host.ts';

export function schemaCommand(): Command {
  return new Command('schema')
    .description('write the flow JSON Schema composed from the installed plugins (for editor completion)')
    .option('-o, --out <file>', 'where to write it', resolve(PROJECT_ROOT, 'schemas/flow.schema.json'))
    .option('--stdout', 'print it instead')
    .action(async (opts: { out: string; stdout?: boolean }) => {
      const host = await PluginHost.load(loadConfig().pluginDirs);
      const text = `${JSON.stringify(composeFlowSchema(host), null, 2)}\n`;
      if (opts.stdout) return void process.stdout.write(text);
      mkdirSync(dirname(opts.out), { recursive: true });
      writeFileSync(opts.out, text);
      process.stdout.write(`wrote ${opts.out} (${host.steps.size} step plugins)\n`);
    });
}
