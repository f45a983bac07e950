export {
  type BenchedService,
  type BenchedServiceOptions,
  type BenchServers,
  chartNodeOptions,
  SERVICE_BENCH_OPTIONS,
  startBenchedService,
  startBenchServers,
} from './bench-servers.js';
export { type DemoResult, type DemoUrls, runDemo } from './demo.js';
export {
  type JaegerOnFreePorts,
  type JaegerOptions,
  type MailpitOptions,
  type PrometheusOptions,
  type StartedServer,
  startJaeger,
  startJaegerOnFreePorts,
  startMailpit,
  startPrometheus,
} from './http-servers.js';
export { type LoadOptions, type LoadProgress, percentile, runLoad } from './load.js';
export { ManagedProcess, type ManagedProcessOptions } from './managed-process.js';
export { type NatsOperatorTrust, NatsServer, type NatsServerOptions } from './nats-server.js';
export { freePort, isPortOpen, StopWaiting, waitUntil } from './ports.js';
export { createDatabase, PostgresServer, type PostgresServerOptions } from './postgres-server.js';
export { type CpuAccount, type MachineCpu, startCpuAccount } from './process-cpu.js';
export { type GithubRelease, installRelease } from './release-download.js';
export {
  LocalStack,
  PORT_VARIABLES,
  type StackOptions,
  type StackPorts,
  type StackUrls,
  stackPorts,
} from './stack.js';
export {
  builtToolPath,
  ensureGoTool,
  GO_TOOLS,
  type GoTool,
  installedToolPath,
  releaseToolPath,
  toolsDir,
} from './tools.js';
