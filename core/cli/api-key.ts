import { Command } from 'commander';
import { newApiKey } from '../api/api-keys.ts';

export function apiKeyCommand(): Command {
  return new Command('api-key')
    .description('make a REST API key: prints the key once, and the hashed entry for SB_API_KEYS / SB_API_KEYS_FILE')
    .argument('<name>', 'who uses the key (letters, digits, . _ -)')
    .action((name: string) => {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
        process.stderr.write('a key name is 1–64 letters, digits, ".", "_" or "-"\n');
        process.exitCode = 1;
        return;
      }
      const { key, entry } = newApiKey(name);
      process.stdout.write(`key (give it to the client, it is not stored): ${key}\nentry (add to SB_API_KEYS or SB_API_KEYS_FILE):  ${entry}\n`);
    });
}
