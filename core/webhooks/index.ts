// The public face of core/webhooks: signed status events of outbound calls, delivered through
// BullMQ (producer WebhookQueue, consumer WebhookWorker) in order per call. See README.md.
export { CallWebhooks, type CallWebhooksOptions } from './call-webhooks.ts';
export { webhookStep, webhookTarget, type WebhookEvent, type WebhookEventType, type WebhookStep, type WebhookTarget } from './event.ts';
export { WebhookQueue, WEBHOOK_QUEUE_NAME, type WebhookQueueOptions } from './producer.ts';
export { DEFAULT_TOLERANCE_SEC, SIGNATURE_HEADER, signatureHeader, verifyWebhook, type VerifyResult } from './signature.ts';
export { WebhookWorker, type WebhookWorkerOptions } from './worker.ts';
