import { readdir } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SwitchboardError, isSwitchboardError } from '../errors.ts';
import { isTransient, type AudioConverter } from './converter.ts';
import { FORMATS, extensionOf } from './formats.ts';
import type { BatchRequest, ConvertRequest } from './request.schema.ts';
import type { ConvertResult, ItemOutcome } from './result.schema.ts';

/** A batch holds at most this many files: past it, split the work (or the folder). */
export const MAX_BATCH_FILES = 100_000;

/** One file of a batch: where it comes from and where it goes (as the request would name them). */
export interface BatchItem {
  index: number;
  input: string;
  output: string;
}


/**
 * `*` and `?` within a name, `**` across folders, `[…]` classes and `{a,b}` alternatives, matched
 * against the path relative to the batch folder with `/` separators.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else if (c === '{') {
      const end = glob.indexOf('}', i + 1);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map((alt) => alt.replace(/[.+^$()|\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files of a batch, sorted, with their outputs. A folder is listed where the worker runs
 * (hidden files, among them unfinished outputs, are left out); without a glob it takes every
 * readable audio file, except — when outputs go beside the inputs — those already in the target
 * format. Outputs keep sub-folders under outDir.
 */
export async function expandBatch(converter: AudioConverter, request: BatchRequest): Promise<BatchItem[]> {
  const { dir, files, glob } = request.batch;
  const to = request.to;
  const outName = (name: string): string => `${name.replace(/\.[^.]*$/, '')}.${to}`;
  if (files !== undefined) {
    return files.map((input, index) => ({ index, input, output: request.outDir !== undefined ? join(request.outDir, outName(basename(input))) : join(dirname(input), outName(basename(input))) }));
  }
  const root = await converter.paths.listable(dir as string);
  const recursive = request.batch.recursive ?? (glob !== undefined && (glob.includes('/') || glob.includes('**')));
  const match = glob !== undefined ? globToRegExp(glob) : undefined;
  const entries = await readdir(root, { withFileTypes: true, recursive });
  const picked: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const rel = relative(root, join(e.parentPath, e.name)).split(sep).join('/');
    if (rel.split('/').some((part) => part.startsWith('.'))) continue;
    if (match) {
      if (!match.test(rel)) continue;
    } else {
      const ext = extensionOf(e.name);
      const f = ext === undefined ? undefined : FORMATS.get(ext);
      if (!f) continue;
      if (request.outDir === undefined && ext === to) continue;
    }
    picked.push(rel);
  }
  if (picked.length > MAX_BATCH_FILES) throw new SwitchboardError('SB_AUDIO_BAD_OPTION', [`${dir} holds ${picked.length} matching files; a batch takes at most ${MAX_BATCH_FILES}`], { pointer: '/batch' });
  picked.sort();
  // Paths stay as the request named them (under dir), so the converter checks each against the roots.
  return picked.map((rel, index) => ({ index, input: join(dir as string, rel), output: join(request.outDir ?? (dir as string), outName(rel)) }));
}

export interface RunBatchOptions {
  /** Files converted at once; the converter itself bounds the sox processes. */
  parallel: number;
  /** Tries per file when a failure is transient (full disk, timeout). */
  attempts: number;
  backoffMs?: number;
  signal?: AbortSignal;
  /** Items already done (a batch resumed after a crash), by index. */
  done?: ReadonlyMap<number, ItemOutcome>;
  beforeCommit?: (item: BatchItem, result: ConvertResult) => Promise<void>;
  onItem?: (outcome: ItemOutcome) => void | Promise<void>;
}

/** Converts every item, `parallel` at a time; one file's failure is recorded and the batch goes on. */
export async function runBatch(converter: AudioConverter, request: BatchRequest, items: readonly BatchItem[], options: RunBatchOptions): Promise<ItemOutcome[]> {
  const outcomes: ItemOutcome[] = new Array<ItemOutcome>(items.length);
  const { batch: _batch, to: _to, outDir: _outDir, ...conversion } = request;
  const seen = new Map<string, number>();
  let next = 0;
  const one = async (item: BatchItem): Promise<ItemOutcome> => {
    const previous = options.done?.get(item.index);
    if (previous) return previous;
    const base = { index: item.index, input: item.input, output: item.output };
    const twin = seen.get(item.output);
    if (twin !== undefined) return { ...base, ok: false, error: { code: 'SB_AUDIO_BAD_OPTION', message: `same output as ${items[twin]?.input}` } };
    seen.set(item.output, item.index);
    const single: ConvertRequest = { ...conversion, input: item.input, output: item.output };
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await converter.convert(single, { signal: options.signal, beforeCommit: options.beforeCommit ? (r) => (options.beforeCommit as NonNullable<RunBatchOptions['beforeCommit']>)(item, r) : undefined });
        return { ...base, ok: true, result };
      } catch (err) {
        if (attempt < options.attempts && isTransient(err) && !options.signal?.aborted) {
          await sleep((options.backoffMs ?? 1000) * 2 ** (attempt - 1), undefined, { signal: options.signal }).catch(() => {});
          continue;
        }
        return { ...base, ok: false, error: { code: isSwitchboardError(err) ? err.code : 'SB_AUDIO_CONVERT_FAILED', message: (err as Error).message } };
      }
    }
  };
  const lane = async (): Promise<void> => {
    while (next < items.length && !options.signal?.aborted) {
      const item = items[next++] as BatchItem;
      const outcome = await one(item);
      outcomes[item.index] = outcome;
      await options.onItem?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, items.length)) }, lane));
  return outcomes.filter((o) => o !== undefined);
}
