/**
 * The Nova Sonic models Switchboard knows, with their voices. Flows are checked against this at
 * load time, so a typo in a voice id is a compile error, not a failed call.
 */

export interface NovaModelInfo {
  /** Voice ids the model accepts in promptStart.audioOutputConfiguration.voiceId. */
  voices: readonly string[];
  /** Accepts an interactive USER text turn, so it can be made to speak first (Nova 2's cross-modal input). */
  canSpeakFirst: boolean;
}

export const NOVA_SONIC_V1 = 'amazon.nova-sonic-v1:0';
export const NOVA_2_SONIC = 'amazon.nova-2-sonic-v1:0';

export const NOVA_MODELS: Readonly<Record<string, NovaModelInfo>> = {
  // docs.aws.amazon.com/nova/latest/userguide/available-voices.html
  [NOVA_SONIC_V1]: {
    voices: ['tiffany', 'matthew', 'amy', 'ambre', 'florian', 'beatrice', 'lorenzo', 'greta', 'lennart', 'lupe', 'carlos'],
    canSpeakFirst: false,
  },
  // docs.aws.amazon.com/nova/latest/nova2-userguide/sonic-language-support.html (16 voices; greta is not among them)
  [NOVA_2_SONIC]: {
    voices: [
      'tiffany', 'matthew', 'amy', 'olivia', 'kiara', 'arjun', 'ambre', 'florian',
      'beatrice', 'lorenzo', 'tina', 'lennart', 'lupe', 'carlos', 'carolina', 'leo',
    ],
    canSpeakFirst: true,
  },
};

/** Why `voiceId` cannot be used with `modelId`, or null when it can (unknown models are not checked). */
export function voiceProblem(modelId: string, voiceId: string): string | null {
  const model = NOVA_MODELS[modelId];
  if (!model || model.voices.includes(voiceId)) return null;
  return `voice "${voiceId}" is not a voice of ${modelId} (one of: ${model.voices.join(', ')})`;
}
