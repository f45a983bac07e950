/**
 * The modules the auto-instrumentations patch, as an application imports them: what the in-thread
 * ESM hook wraps. It must be registered before any instrumentation exists (a hook an
 * instrumentation adds earlier never takes), so the list cannot be read from them at that point;
 * `instrumentations.test.ts` checks it is exactly what they name, so an upgrade that adds a module
 * fails there instead of leaving its ESM imports silently unpatched.
 */
export const HOOKED_MODULES: readonly string[] = [
  '@aws-sdk/middleware-stack',
  '@aws-sdk/smithy-client',
  '@cucumber/cucumber',
  '@grpc/grpc-js',
  '@hapi/hapi',
  '@nestjs/core',
  '@node-redis/client',
  '@redis/client',
  '@smithy/core',
  '@smithy/middleware-stack',
  '@smithy/smithy-client',
  'amqplib',
  'bunyan',
  'cassandra-driver',
  'connect',
  'dataloader',
  'express',
  'generic-pool',
  'graphql',
  'http',
  'https',
  'ioredis',
  'kafkajs',
  'koa',
  'lru-memoizer',
  'memcached',
  'mongodb',
  'mongoose',
  'mysql',
  'mysql2',
  'openai',
  'oracledb',
  'pg',
  'pg-pool',
  'redis',
  'restify',
  'router',
  'socket.io',
  'tedious',
  'winston',
];
