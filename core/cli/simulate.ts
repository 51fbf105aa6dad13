import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Command } from 'commander';
import yaml from 'js-yaml';
import { describeTimeline } from './timeline-format.ts';

/**
 * Runs one flow file against the bundled FreeSWITCH simulator and prints its timeline. The exit
 * code says whether the flow ended as expected (default: completed).
 */
export function simulateCommand(): Command {
  return new Command('simulate')
    .description('run a flow against the FreeSWITCH simulator and print its timeline (steps, ESL commands, outcomes)')
    .argument('<flow>', 'flow file (.yaml)')
    .option('--from <number>', 'caller id number', '+15551234567')
    .option('--to <number>', 'destination number', '7000')
    .option('--domain <domain>', 'FusionPBX domain (also the context)')
    .option('--dtmf <digits>', 'keys the caller presses, one group per prompt: "1", "42#", or "9,2" (9 at the first prompt, 2 at the next)')
    .option('--hangup-after <seconds>', 'the caller hangs up after this many seconds')
    .option('--expect <ending>', 'completed | hangup | error | max-steps', 'completed')
    .option('--speed <factor>', 'time runs this many times faster than real time', '50')
    .option('--conversation <file>', 'for nova steps: a YAML list of turns { caller, bot, tool? } played by the bundled Nova Sonic emulator')
    .action(async (file: string, o: { from: string; to: string; domain?: string; dtmf?: string; hangupAfter?: string; expect: string; speed: string; conversation?: string }) => {
      const { StepHarness, farEndHangsUp } = await import('../../test/support/step-tester.ts');
      const speed = Math.max(1, Number(o.speed) || 50);
      const turns = o.conversation ? conversationTurns(readFileSync(o.conversation, 'utf8')) : [];
      const harness = await StepHarness.start({
        timeScale: 1 / speed,
        nova: { timeScale: 1 / speed, script: { turnDetection: { afterAudioMs: 200 }, reply: turns.map((t) => ({ userTranscript: t.caller, text: t.bot, audio: { ms: 60 * t.bot.split(/\s+/).length }, ...(t.tool ? { toolUse: t.tool } : {}) })) } },
      });
      const started = performance.now();
      const stamp = (): string => `+${String(Math.round((performance.now() - started) * speed)).padStart(6)} ms`;
      const print = (who: string, text: string): void => void process.stdout.write(`${stamp()}  ${who.padEnd(6)} ${text}\n`);
      // The caller waits for each gather step to start; `ended` once the flow is over.
      let gathersStarted = 0;
      let gathersAnswered = 0;
      let ended = false;
      let wake: (() => void) | undefined;
      const nextGather = async (): Promise<boolean> => {
        while (gathersStarted <= gathersAnswered && !ended) await new Promise<void>((r) => (wake = r));
        gathersAnswered++;
        return !ended;
      };
      try {
        const run = await harness.run(
          readFileSync(file, 'utf8'),
          {
            name: file,
            call: { from: o.from, to: o.to, domain: o.domain, context: o.domain },
            caller: async (channel) => {
              const timers: Array<Promise<void>> = [];
              if (o.hangupAfter !== undefined) {
                timers.push(new Promise<void>((resolve) => setTimeout(() => void channel.hangup('NORMAL_CLEARING').catch(() => {}).then(() => resolve()), (Number(o.hangupAfter) * 1000) / speed)));
              }
              // Each DTMF group answers one gather: pressed once that gather's prompt starts.
              for (const group of (o.dtmf ?? '').split(',').filter(Boolean)) {
                if (!(await nextGather()) || channel.hungUp) break;
                const since = channel.executed.length;
                await channel.waitForApp('playback', { since, timeoutMs: 2000 }).catch(() => undefined);
                print('caller', `presses ${group}`);
                await channel.pressDtmf(group).catch(() => {});
              }
              // Each conversation turn: the caller talks once the model's previous answer was heard.
              for (let i = 0; i < turns.length; i++) {
                const audio = await harness.audio?.connected(channel.uuid, 600_000).catch(() => undefined);
                if (!audio || channel.hungUp) break;
                const since = channel.executed.length;
                print('caller', `says "${turns[i]?.caller}"`);
                await audio.sendSilence(250).catch(() => {});
                if (i < turns.length - 1) await channel.waitForApp('playback', { arg: /\.tmp\.r(8|16)$/, since, completed: true, timeoutMs: 600_000 }).catch(() => undefined);
              }
              if (turns.length > 0) await farEndHangsUp(600_000)(channel, harness.sim).catch(() => undefined);
              await Promise.all(timers);
            },
          },
          {
            file: relative(process.cwd(), file),
            onTimeline: (e) => {
              print('flow', describeTimeline(e));
              if (e.kind === 'step-start' && e.name === 'gather') gathersStarted++;
              if (e.kind === 'flow-end') ended = true;
              wake?.();
            },
            onCommand: (t) => print('esl →', t),
          },
        );
        for (const [id, r] of Object.entries(run.result.steps)) {
          if (typeof r.transcript === 'string' && r.transcript !== '') process.stdout.write(`\ntranscript of ${id}:\n${r.transcript.replace(/^/gm, '  ')}\n`);
        }
        const ok = run.result.ending === o.expect;
        process.stdout.write(`\n${ok ? 'ok' : 'unexpected'}: flow ended "${run.result.ending}" after ${run.result.stepsRun} steps (expected "${o.expect}")\n`);
        process.exitCode = ok ? 0 : 1;
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await harness.close();
      }
    });
}


interface Turn {
  caller: string;
  bot: string;
  tool?: { toolName: string; input: unknown };
}

function conversationTurns(text: string): Turn[] {
  const list = yaml.load(text);
  if (!Array.isArray(list)) throw new Error('a conversation file is a YAML list of turns: - { caller, bot, tool? }');
  return list.map((t: { caller?: unknown; bot?: unknown; tool?: Record<string, unknown> }, i) => {
    if (typeof t?.caller !== 'string' || typeof t.bot !== 'string') throw new Error(`turn ${i + 1}: needs caller and bot texts`);
    const [toolName, input] = Object.entries(t.tool ?? {})[0] ?? [];
    return { caller: t.caller, bot: t.bot, ...(toolName ? { tool: { toolName, input: input ?? {} } } : {}) };
  });
}
