// Regression (review): every claim() refusal was recorded as a failed attempt, "already running"
// included, so a daemon retry meeting its own still-running backup notified a failure for a
// backup that then succeeded, and a client opening Uploads in a loop flooded failures.
// The Activity's contract, without a server: "server busy" is recorded, "already running" is not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Activity } from '../src/server/activity';
import { BusyError, errorMessage } from '../src/common/errors';
import type { UploadOutcome } from '../src/server/activity';

test('a refusal because the client\'s own backup is running is not a failed attempt', () => {
  const activity = new Activity(4, 60);
  const outcomes: UploadOutcome[] = [];
  activity.onOutcome((outcome) => outcomes.push(outcome));
  activity.claimOrRecordRefusal('web', errorMessage);
  assert.throws(() => activity.claimOrRecordRefusal('web', errorMessage), BusyError);
  assert.deepEqual(outcomes, []);
  assert.equal(activity.failureOf('web'), undefined);
  activity.finish({ clientName: 'web', backupNumber: 1, isSuccess: true, at: Date.now() });
  assert.equal(activity.outcomeOf('web')?.isSuccess, true);
});

test('a refusal "server busy" (max_children) is recorded as the client\'s failed attempt', () => {
  const activity = new Activity(1, 60);
  const outcomes: UploadOutcome[] = [];
  activity.onOutcome((outcome) => outcomes.push(outcome));
  activity.claimOrRecordRefusal('db', errorMessage);
  assert.throws(() => activity.claimOrRecordRefusal('web', errorMessage), BusyError);
  assert.equal(outcomes.length, 1);
  assert.equal(outcomes[0].clientName, 'web');
  assert.equal(outcomes[0].isSuccess, false);
  assert.match(outcomes[0].reason ?? '', /server busy/);
});
