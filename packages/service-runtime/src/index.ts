export { ConfigError, env, loadConfig } from './config.js';
export { type RunningHttpServer, startHttpServer } from './http-server.js';
export { createLogger, type Logger, type LoggerOptions } from './logger.js';
export {
  createMetricsRegistry,
  exemplarHistogram,
  exposeMetrics,
  METRIC_PREFIX,
  type MetricsExposition,
  prefersOpenMetrics,
  requestMetrics,
  type SnapshotGauge,
  snapshotGauges,
  type TraceExemplarLabels,
  traceExemplarLabels,
} from './metrics.js';
export {
  type DependencyCheck,
  type DependencyState,
  OPERATIONAL_PATHS,
  type OperationalEndpointsOptions,
  operationalEndpoints,
} from './operational-endpoints.js';
export { safeOneLine, withoutEmailAddresses } from './privacy.js';
export {
  type FieldViolation,
  isProblemError,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPES,
  type ProblemDetails,
  ProblemError,
  type ProblemErrorOptions,
  problemDetails,
  toProblem,
} from './problem.js';
export {
  EXIT_STATUS,
  type MainOptions,
  type MainSettings,
  runMain,
  type StartedService,
} from './run-main.js';
export { createServiceApp, type ServiceAppOptions } from './service-app.js';
export { exitOnSignal, type ShutdownOptions } from './shutdown.js';
