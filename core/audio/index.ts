// The public face of core/audio: converting audio files with sox, inline or through the BullMQ
// `audio` queue, confined to the audio roots. See README.md.
export { AudioConverter, isTransient, soxArgs, type AudioConverterOptions } from './converter.ts';
export { audioJobSchema, convertResultSchema, itemOutcomeSchema, batchSummarySchema, AUDIO_JOB_STATES, type AudioJobState, type AudioJobStateName, type BatchSummary, type ConvertResult, type ItemOutcome } from './result.schema.ts';
export { AudioPaths } from './roots.ts';
export { FORMATS, RATES, formatOf, type AudioFormat, type Codec } from './formats.ts';
export { audioRequestSchema, batchRequestSchema, convertRequestSchema, optionProperties, isBatchRequest, type AudioRequest, type BatchRequest, type ConvertOptions, type ConvertRequest } from './request.schema.ts';
export { checkRequest, formatProblem, optionProblems, requestProblems, type RequestProblem } from './request.ts';
export { expandBatch, runBatch, globToRegExp, MAX_BATCH_FILES, type BatchItem } from './batch.ts';
export { AudioQueue, AUDIO_QUEUE_NAME, type AudioJobResult, type AudioJobKind } from './queue.ts';
export { AudioWorker, type AudioWorkerOptions } from './worker.ts';
export { AudioRuntime, audioConverter, audioRoots, type AudioService } from './runtime.ts';
export { probeSox, type SoxCapabilities } from './sox.ts';
