import { Command } from 'commander';
import { loadConfig, loadDotEnv } from '../config.ts';
import { formatDiagnostic, type Diagnostic } from '../flow/diagnostics.ts';

export function reloadCommand(): Command {
  return new Command('reload')
    .description('ask the running service to reload its flows (like SIGHUP); prints the errors of a rejected change')
    .option('--url <url>', 'the service\'s HTTP address (default: from SB_HTTP_HOST/SB_HTTP_PORT)')
    .action(async (o: { url?: string }) => {
      loadDotEnv();
      const config = loadConfig();
      const base = o.url ?? `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${config.http.port}`;
      let res: Response;
      try {
        const key = process.env.SB_API_KEY;
        res = await fetch(`${base}/v1/flows/reload`, { method: 'POST', headers: key ? { authorization: `Bearer ${key}` } : {} });
      } catch (err) {
        process.stderr.write(`cannot reach Switchboard at ${base}: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const body = (await res.json()) as { ok: boolean; flows: string[]; diagnostics: Diagnostic[]; code?: string; message?: string };
      if (body.code) {
        process.stderr.write(`${body.code}: ${body.message ?? ''}${res.status === 401 ? ' (set SB_API_KEY to a key the service knows)' : ''}\n`);
        process.exitCode = 1;
        return;
      }
      for (const d of body.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      process.stdout.write(body.ok ? `reloaded: ${body.flows.join(', ')}\n` : 'rejected: the previous flows stay live\n');
      process.exitCode = body.ok ? 0 : 1;
    });
}
