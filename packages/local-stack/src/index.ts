export { ManagedProcess, type ManagedProcessOptions } from './managed-process.js';
export { NatsServer, type NatsServerOptions } from './nats-server.js';
export { freePort, isPortOpen, waitUntil } from './ports.js';
export { createDatabase, PostgresServer, type PostgresServerOptions } from './postgres-server.js';
export { ensureGoTool, GO_TOOLS, type GoTool, toolsDir } from './tools.js';
