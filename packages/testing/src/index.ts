/**
 * What the test suites share: the harness's real servers (one PostgreSQL cluster per run, a
 * nats-server per test file), the services run as processes, an SMTP sink that can misbehave, a
 * TCP proxy that cuts connections, throw-away certificates and NATS credentials, a headless
 * browser, and the JetStream helpers several suites need.
 */
export { BROWSER_INSTALL_HINT, BROWSERS, locateBrowser, renderedDom } from './browser.js';
export { describeConfigTable, documentedMeanings } from './docs.js';
export {
  createTestDatabase,
  onTestFileEnd,
  startNatsServer,
  startSmtpSink,
} from './harness.js';
export {
  createUsersStream,
  readStream,
  type SettledOptions,
  waitForConsumersSettled,
} from './jetstream.js';
export {
  type IssuedCredentials,
  issueCredentials,
  untrustedCredentials,
} from './nats-credentials.js';
export {
  type FlowService,
  type ServedService,
  type ServeOptions,
  type ServiceName,
  type SignupFlow,
  type SignupFlowOptions,
  serve,
  serveSignupFlow,
} from './services.js';
export { signUp } from './signup.js';
export {
  type DeliveryAttempt,
  type ReceivedEmail,
  type SinkBehaviour,
  type SinkReply,
  SmtpSink,
  type SmtpSinkOptions,
  startDroppingServer,
} from './smtp-sink.js';
export { TcpProxy } from './tcp-proxy.js';
export {
  createCertificateAuthority,
  createTestCertificates,
  issueCertificate,
  type TestCertificates,
} from './test-ca.js';
