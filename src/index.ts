/**
 * Outbox: a durable queue for outgoing email.
 *
 * This file is the whole public API; anything not exported here is internal.
 */
export { createOutbox } from './outbox.js'
export type { Outbox, BatchItem } from './outbox.js'
export type {
  OutboxOptions,
  Duration,
  BounceAddressSettings,
  NamedUpstreamOptions,
  RouteOptions,
} from './config/outbox-options.js'
export type { RoutingUpdate, ReconfigureResult } from './delivery/routing-update.js'
export type { BounceIntake, IntakeResult } from './ingress/bounce-intake.js'
export type { DkimKeyInput, DkimAlgorithm } from './config/dkim-settings.js'
export type {
  MailInput,
  SendOptions,
  SendResult,
  Priority,
  MessageStatus,
  RecipientStatus,
  Envelope,
} from './message/types.js'
export type { RawMessageInput } from './message/compose-raw.js'
export type { Worker, WorkerOptions, WorkerCounts } from './worker/worker.js'
export type { Admin, ActionResult, PurgeStatus } from './admin/admin.js'
export type {
  SuppressionAdmin,
  SuppressAddResult,
  SuppressRemoveResult,
  SuppressImportResult,
  SuppressImportOptions,
  SuppressExportFormat,
} from './admin/suppressions.js'
export type { UpstreamSpec } from './delivery/upstream.js'
export type { RetryPolicy } from './delivery/retry-schedule.js'
export type { Logger } from './logger.js'
export type { OutboxEvent } from './events.js'
export { startHttpServer } from './http-lazy.js'
export type { HttpServer, HttpServerOptions } from './http/http-server.js'
export type {
  Store,
  NewMessage,
  EnqueueResult,
  ClaimRequest,
  ClaimedMessage,
  Completion,
  AttemptRecord,
  AttemptOutcome,
  RecipientOutcome,
  MessageSummary,
  MessageDetail,
  MessageFilter,
  MessageSelector,
  MessagePage,
  PageRequest,
  QueueStats,
  UpstreamProblem,
  Activity,
  ActivityBucket,
  ActivityRequest,
  Suppression,
  SuppressionInput,
  SuppressionReason,
  SuppressionPage,
  SuppressionQuery,
  RecipientFeedback,
  EventType,
  StoredEvent,
  EventQuery,
  EventPage,
  EventConsumer,
  TemplateContent,
  StoredTemplate,
  TemplateSummary,
  TemplateRef,
} from './store/store.js'
export type { TemplateMailInput } from './templates/template-mail.js'
export type {
  TemplateAdmin,
  TemplateDetail,
  TemplateRendering,
  TemplateSyncResult,
} from './admin/templates.js'
export { EVENT_TYPES } from './store/store.js'
export type { EventStreamOptions } from './event-log/follow-events.js'
export type { WebhookInput } from './webhooks/webhook-settings.js'
export type { WebhookAdmin, WebhookStatus } from './admin/webhooks.js'
export { verifyWebhook, signWebhook } from './webhooks/webhook-signature.js'
export {
  OutboxError,
  InvalidMessageError,
  ConfigError,
  StoreUnavailableError,
  MessageNotFoundError,
  AccessDeniedError,
  InvalidImportError,
  TemplateNotFoundError,
  TemplateSyntaxError,
  TemplateRenderError,
  ErrorCodes,
} from './errors.js'
export type { ErrorCode, ImportProblem } from './errors.js'
