// The public face of core/queue: outbound calls through BullMQ (producer CallQueue, consumer
// CallWorker), paced per gateway through Redis, never dialled twice. See README.md.
export { callJobSchema, WEBHOOK_EVENTS, type CallJob, type FromSchema } from './call-job.schema.ts';
export { allListeners, type CallJobEvent, type CallJobEventType, type CallJobListener } from './job-events.ts';
export { CallQueue, type CallQueueOptions, type AddResult, type CallJobState } from './producer.ts';
export { CallWorker, type CallWorkerOptions, type CallWorkerTiming } from './worker.ts';
export { type PacingOptions, type PacingLimit } from './pacing.ts';
export { type CallState, type TimelineEntry } from './store.ts';
export { type QueueConnection, CALL_QUEUE_NAME, DEFAULT_PREFIX } from './redis.ts';
export { validateCallJob, jobProblems, jobEndpoint, type JobProblem } from './validate.ts';
export { earliestStart, nextWindowStart } from './window.ts';
export { DEFAULT_RETRY_ON, type CallOutcome } from './job-data.ts';
// Batches (campaigns): rows expanded into call jobs, with progress, pause, resume and cancel.
export { batchSchema, batchRowSchema, batchSettingsSchema, type BatchInput, type BatchRow, type BatchSettings } from './batch.schema.ts';
export { BatchQueue, type BatchQueueOptions, type BatchCreateOptions, type BatchAccepted, type BatchCounts, type BatchStatus } from './batches.ts';
export { BatchWorker, type BatchWorkerOptions } from './batch-worker.ts';
export { batchQuerySchema } from './batch-csv.ts';
export { BATCH_ID, BATCH_QUEUE_NAME } from './batch-keys.ts';
export { type BatchState } from './batch-store.ts';
export { type RejectedRow } from './batch-validate.ts';
