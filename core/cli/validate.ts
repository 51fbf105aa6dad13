import { Command } from 'commander';
import { loadConfig } from '../config.ts';
import { formatDiagnostic } from '../flow/diagnostics.ts';
import { flowFiles, loadFlows } from '../flow/registry.ts';
import { PluginHost } from '../plugins/host.ts';

export function validateCommand(): Command {
  return new Command('validate')
    .description('check flow files (all errors, like a compiler); exit 1 when any has an error')
    .argument('[paths...]', 'flow files or directories', [])
    .option('--format <format>', 'text or json', 'text')
    .action(async (paths: string[], opts: { format: string }) => {
      const config = loadConfig();
      const host = await PluginHost.load(config.pluginDirs);
      const files = flowFiles(paths.length > 0 ? paths : [config.flowsDir]);
      const result = loadFlows(files, host);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      const warnings = result.diagnostics.filter((d) => d.severity === 'warning');
      if (opts.format === 'json') {
        process.stdout.write(`${JSON.stringify({ ok: result.ok, files: files.length, flows: result.plans.map((p) => p.name), diagnostics: result.diagnostics, pluginProblems: host.problems }, null, 2)}\n`);
      } else {
        for (const p of host.problems) process.stderr.write(`${p.source}  ${p.code}  ${p.message}\n`);
        for (const d of result.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        const summary = `${files.length} file${files.length === 1 ? '' : 's'}, ${result.plans.length} flow${result.plans.length === 1 ? '' : 's'}: ${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}`;
        (result.ok ? process.stdout : process.stderr).write(`${result.ok ? 'ok' : 'failed'}: ${summary}\n`);
      }
      process.exitCode = result.ok && files.length > 0 ? 0 : 1;
    });
}
