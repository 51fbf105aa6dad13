// The public face of core/queue: outbound calls through BullMQ (producer CallQueue, consumer
// CallWorker), paced per gateway through Redis, never dialled twice. See README.md.
export { callJobSchema, type CallJob, type FromSchema } from './call-job.schema.ts';
export { CallQueue, type CallQueueOptions, type AddResult, type CallJobState } from './producer.ts';
export { CallWorker, type CallWorkerOptions, type CallWorkerTiming } from './worker.ts';
export { type PacingOptions, type PacingLimit } from './pacing.ts';
export { type CallState, type TimelineEntry } from './store.ts';
export { type QueueConnection, CALL_QUEUE_NAME, DEFAULT_PREFIX } from './redis.ts';
export { validateCallJob, jobProblems, jobEndpoint, type JobProblem } from './validate.ts';
export { earliestStart, nextWindowStart } from './window.ts';
export { DEFAULT_RETRY_ON, type CallOutcome } from './job-data.ts';
