/** Assertions shared by the integration tests. */
import { expect } from 'chai';
import { HighwayError } from '../../src/errors.js';

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ('value' in outcome) expect.fail(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).to.be.instanceOf(Error);
  return outcome.error as Error;
}

/** The HighwayError a tool call rejects with (fails the test if it resolves or fails otherwise). */
export async function highwayRejection(promise: Promise<unknown>): Promise<HighwayError> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(HighwayError);
  return err as HighwayError;
}
