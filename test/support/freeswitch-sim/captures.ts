import { readFileSync } from 'node:fs';
import { splitFrames, type RawFrame } from './raw-esl-client.ts';

/** Real FreeSWITCH 1.11 captures (shared/fixtures/esl), next to the repository. */
export const CAPTURES = new URL('../../../../shared/fixtures/esl/', import.meta.url).pathname;

export function captureBytes(name: string): Buffer {
  return readFileSync(`${CAPTURES}${name}`);
}

export function captureFrames(name: string): RawFrame[] {
  const { frames, rest } = splitFrames(captureBytes(name));
  if (rest.length > 0) throw new Error(`${name}: ${rest.length} trailing bytes`);
  return frames;
}

/** The JSON events of a capture, each as its ordered [key, value] list. */
export function captureJsonEvents(name: string): Array<Array<[string, string]>> {
  return captureFrames(name)
    .filter((f) => f.headers['Content-Type'] === 'text/event-json')
    .map((f) => Object.entries(JSON.parse((f.body as Buffer).toString('utf8')) as Record<string, string>));
}

/** Key order of an event without its variables (those differ by channel, their order does not). */
export function shapeOf(entries: Array<[string, string]>): string[] {
  return entries.map(([k]) => k).filter((k) => !k.startsWith('variable_'));
}
