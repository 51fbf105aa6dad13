import { relative } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { PluginHost } from '../plugins/host.ts';

export function pluginsCommand(): Command {
  return new Command('plugins')
    .description('list installed plugins (steps and Nova tools) with version and folder')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const host = await PluginHost.load(loadConfig().pluginDirs);
      const rows = host.list().map((r) => ({ ...r, source: relative(process.cwd(), r.source) || r.source }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ plugins: rows, problems: host.problems }, null, 2)}\n`);
      } else {
        const w = Math.max(4, ...rows.map((r) => r.name.length));
        process.stdout.write(`${'NAME'.padEnd(w)}  KIND  VERSION  SOURCE\n`);
        for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${r.kind.padEnd(4)}  ${r.version.padEnd(7)}  ${r.source}\n`);
        for (const p of host.problems) process.stderr.write(`skipped ${p.source}: ${p.message}\n`);
      }
      process.exitCode = host.problems.length > 0 ? 1 : 0;
    });
}
