import { existsSync, realpathSync } from 'node:fs';
import { lstat, mkdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, normalize, relative, resolve, sep } from 'node:path';
import { SwitchboardError } from '../errors.ts';

/**
 * Where conversions may read and write. With roots (the service, the queue, flows: paths come
 * from requests), every path must lie inside one of them after symbolic links are resolved:
 * `../`, an absolute path elsewhere or a link pointing out are refused before any process
 * starts. Without roots (the CLI: an operator's own files) paths are only made absolute.
 * Relative paths are under the first root (or the working directory without roots).
 */
export class AudioPaths {
  /** The roots as configured (absolute, normalised) and as they really are on disk. */
  readonly roots: readonly string[] | undefined;
  private readonly realRoots: readonly string[] | undefined;

  constructor(roots: readonly string[] | undefined, private readonly cwd = process.cwd()) {
    this.roots = roots?.map((r) => resolve(cwd, r));
    this.realRoots = this.roots?.map((r) => (existsSync(r) ? realpathSync(r) : r));
  }

  /** Absolute form of a request path, refused when it is lexically outside the roots (no disk access). */
  absolute(path: string): string {
    if (path.includes('\0')) throw new SwitchboardError('SB_AUDIO_BAD_OPTION', ['a path must not contain a NUL byte']);
    const abs = isAbsolute(path) ? normalize(path) : resolve(this.roots?.[0] ?? this.cwd, path);
    if (this.roots && !this.roots.some((r) => inside(r, abs))) throw this.outside(path);
    return abs;
  }

  /** An existing file to read: its real path, inside the roots. SB_AUDIO_NOT_FOUND when it is not there. */
  async input(path: string): Promise<string> {
    const abs = this.absolute(path);
    let real: string;
    try {
      real = await realpath(abs);
    } catch (err) {
      throw notFound(path, err);
    }
    this.checkReal(path, real);
    return real;
  }

  /**
   * A file to write: its real folder (created when missing, inside the roots) joined with its
   * name. Links in the folder part are resolved and checked; the name itself is replaced, never
   * followed, when the result is renamed into place.
   */
  async output(path: string): Promise<string> {
    const abs = this.absolute(path);
    const name = basename(abs);
    if (name === '' || name === '.' || name === '..') throw new SwitchboardError('SB_AUDIO_BAD_OPTION', [`output ${path} names a folder, not a file`]);
    const dir = await this.folder(dirname(abs), path);
    return join(dir, name);
  }

  /** An existing folder to list (batch), inside the roots. */
  async listable(path: string): Promise<string> {
    const real = await this.input(path);
    const s = await stat(real);
    if (!s.isDirectory()) throw new SwitchboardError('SB_AUDIO_NOT_FOUND', [path, 'is not a folder']);
    return real;
  }

  /** The real path of a folder, made (recursively) when missing: the deepest existing part is resolved and checked first. */
  async folder(dir: string, shown: string): Promise<string> {
    // Most folders are there already: one realpath, and the walk up only when it fails.
    const there = await realpath(dir).catch(() => undefined);
    if (there !== undefined) {
      this.checkReal(shown, there);
      return there;
    }
    let existing = dir;
    const missing: string[] = [];
    for (;;) {
      try {
        await lstat(existing);
        break;
      } catch {
        const parent = dirname(existing);
        if (parent === existing) break;
        missing.unshift(basename(existing));
        existing = parent;
      }
    }
    let real: string;
    try {
      real = await realpath(existing);
    } catch (err) {
      throw notFound(shown, err);
    }
    this.checkReal(shown, real);
    if (missing.length === 0) return real;
    const made = join(real, ...missing);
    try {
      await mkdir(made, { recursive: true });
    } catch (err) {
      throw new SwitchboardError('SB_AUDIO_WRITE_FAILED', [shown, `cannot create ${made}: ${(err as Error).message}`], { cause: (err as NodeJS.ErrnoException).code });
    }
    return made;
  }

  private checkReal(shown: string, real: string): void {
    if (this.realRoots && !this.realRoots.some((r) => inside(r, real))) throw this.outside(shown);
  }

  private outside(path: string): SwitchboardError {
    return new SwitchboardError('SB_AUDIO_OUTSIDE_ROOTS', [path, (this.roots ?? []).join(':')]);
  }
}

export function inside(root: string, path: string): boolean {
  if (path === root) return true;
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
}

function notFound(path: string, err: unknown): SwitchboardError {
  const code = (err as NodeJS.ErrnoException).code;
  return new SwitchboardError('SB_AUDIO_NOT_FOUND', [path, code === 'ENOENT' || code === 'ENOTDIR' ? 'no such file' : (err as Error).message], { cause: code });
}
