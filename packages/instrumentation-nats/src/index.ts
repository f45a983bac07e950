export { messagingAttributes, spanName } from './attributes.js';
export {
  createNatsTracing,
  INSTRUMENTATION_SCOPE_NAME,
  INSTRUMENTATION_SCOPE_VERSION,
  type NatsTracing,
} from './instrumentation.js';
export { natsHeadersGetter, natsHeadersSetter } from './propagator.js';
export * from './semconv.js';
export { captureTraceContext, restoreTraceContext } from './stored-context.js';
export type {
  MessageHandler,
  NatsInstrumentationConfig,
  ProcessHook,
  ProcessOptions,
  PublishHook,
  PublishInfo,
  TracedPublishOptions,
} from './types.js';
