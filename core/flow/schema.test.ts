import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import yaml from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, PROJECT_ROOT } from '../config.ts';
import { createAjv, PluginHost } from '../plugins/host.ts';
import { composeFlowSchema } from './schema.ts';

let host: PluginHost;
beforeAll(async () => {
  host = await PluginHost.load(loadConfig().pluginDirs);
});

describe('the composed flow JSON Schema', () => {
  it('is committed up to date in schemas/flow.schema.json (run `switchboard schema` after changing a plugin)', () => {
    const committed = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schemas/flow.schema.json'), 'utf8')) as unknown;
    expect(committed).toEqual(composeFlowSchema(host));
  });

  it('accepts every example flow and names each plugin\'s options for editors', () => {
    const validate = createAjv().compile(composeFlowSchema(host));
    const dir = join(PROJECT_ROOT, 'flows');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const ok = validate(yaml.load(readFileSync(join(dir, f), 'utf8')));
      expect(ok, `${f}: ${JSON.stringify(validate.errors?.slice(0, 3))}`).toBe(true);
    }
    const schema = composeFlowSchema(host) as { definitions: Record<string, { description?: string }> };
    expect(schema.definitions['options.transfer']?.description).toContain('Transfers the caller');
  });

  it('rejects a typo in a step option', () => {
    const validate = createAjv().compile(composeFlowSchema(host));
    expect(validate({ name: 'x', steps: [{ transfer: { to: '1001', mdoe: 'blind' } }] })).toBe(false);
    expect(validate({ name: 'x', steps: ['answer', { grete: 'a.wav' }] })).toBe(false);
  });
});
