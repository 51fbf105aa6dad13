import { readFileSync } from 'node:fs';

/** Switchboard's own version: plugins declare the engine range they need against it. */
export const ENGINE_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
