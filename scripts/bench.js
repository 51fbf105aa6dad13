#!/usr/bin/env node
// npm run bench -- <name>: runs bench/<name>.ts. Each bench prints a table and, as its last
// line, one JSON object with its figures.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const available = readdirSync(join(root, 'bench')).filter((f) => /^[a-z]+\.ts$/.test(f)).map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}>`);
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(root, 'bench', `${name}.ts`), ...process.argv.slice(3)], { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
