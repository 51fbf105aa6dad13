import { spawn } from 'node:child_process';
import { SwitchboardError } from '../errors.ts';

/**
 * Speaks a text file into a WAV with espeak-ng (22.05 kHz mono), for prompts kept as text
 * (`switchboard prepare-sounds`). No shell: the text is read by espeak-ng from the file.
 */
export function speak(textFile: string, wavFile: string, options: { voice: string; bin?: string; timeoutMs?: number }): Promise<void> {
  const bin = options.bin ?? 'espeak-ng';
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['-v', options.voice, '-w', wavFile, '-f', textFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(err.code === 'ENOENT' ? new SwitchboardError('SB_AUDIO_CONVERTER_MISSING', [`"${bin}" is not installed (prompts given as text are spoken with it)`, 'espeak-ng', 'espeak-ng']) : err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new SwitchboardError('SB_AUDIO_CONVERT_FAILED', [textFile, `espeak-ng ${signal ? `was killed (${signal})` : `exited ${code}`}: ${stderr.trim() || 'no message'}`]));
    });
  });
}
