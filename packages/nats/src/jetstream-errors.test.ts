import { JetStreamApiError } from '@nats-io/jetstream';
import { errors, NoRespondersError, RequestError } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { isJetStreamUnavailable, JETSTREAM_API_CODES } from './jetstream-errors.js';

const apiError = (code: number, status: number, description: string) =>
  new JetStreamApiError({ err_code: code, code: status, description });

describe('isJetStreamUnavailable', () => {
  it('when JetStream did not answer (a timeout, no responders, no cluster leader), then it is worth another try', () => {
    const noResponders = new RequestError('', { cause: new NoRespondersError('$JS.API.INFO') });
    expect(isJetStreamUnavailable(new errors.TimeoutError())).toBe(true);
    // As nats.js reports it: JetStream "not enabled", caused by the no-responders reply.
    expect(
      isJetStreamUnavailable(new Error('jetstream is not enabled', { cause: noResponders })),
    ).toBe(true);
    expect(
      isJetStreamUnavailable(
        apiError(
          JETSTREAM_API_CODES.ClusterNotAvailable,
          503,
          'JetStream system temporarily unavailable',
        ),
      ),
    ).toBe(true);
  });

  it('when JetStream answered with a refusal or a missing stream, then it is not', () => {
    expect(
      isJetStreamUnavailable(apiError(JETSTREAM_API_CODES.StreamNotFound, 404, 'stream not found')),
    ).toBe(false);
    const denied = new errors.PermissionViolationError(
      'Permissions Violation for Publish to "$JS.API.STREAM.INFO.USERS"',
      'publish',
      '$JS.API.STREAM.INFO.USERS',
    );
    expect(isJetStreamUnavailable(denied)).toBe(false);
    expect(isJetStreamUnavailable(new Error('consumer config invalid'))).toBe(false);
  });
});
