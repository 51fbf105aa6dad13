import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../config.ts';
import { compileFlow } from '../flow/compile.ts';
import { formatDiagnostic } from '../flow/diagnostics.ts';
import { PluginHost } from './host.ts';

const pluginsDir = join(PROJECT_ROOT, 'plugins');
const folders = readdirSync(pluginsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

let host: PluginHost;
beforeAll(async () => {
  host = await PluginHost.load(loadConfig().pluginDirs);
});

describe('every plugin folder holds a manifest, a README with a YAML example that compiles', () => {
  it.each(folders)('%s', (name) => {
    const loaded = host.steps.get(name) ?? host.tools.get(name);
    expect(loaded, `plugins/${name} did not load: ${JSON.stringify(host.problems)}`).toBeDefined();
    const readme = readFileSync(join(pluginsDir, name, 'README.md'), 'utf8');
    expect(readme.startsWith(`# ${name}\n`)).toBe(true);
    const example = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'README has a ```yaml example').toBeDefined();
    const flow = /^name:/m.test(example as string) ? (example as string) : `name: example\n${example}`;
    const { diagnostics } = compileFlow(flow, `plugins/${name}/README.md`, host, { ...process.env, CRM_WEBHOOK_SECRET: 'x' });
    expect(diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic)).toEqual([]);
  });
});
