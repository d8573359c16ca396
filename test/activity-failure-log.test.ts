// Regression (operator review): a client's failure reported within ten minutes of an earlier one was
// not logged, even with a success in between: a pre script failure, a success, then a dump source
// failure left the second failure's reason nowhere on the server (/status needs status_details).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Activity } from '../src/server/activity';

test('a failure report after a success is logged; reports in a loop are held back and counted', () => {
  const activity = new Activity(4, 60);
  const now = Date.now();
  assert.equal(activity.failureReportLog.admit('node1', now), 0);
  assert.equal(activity.failureReportLog.admit('node1', now + 1000), undefined, 'a loop of failures is held back');
  activity.finish({ clientName: 'node1', backupNumber: 3, isSuccess: true, at: now + 2000 });
  assert.equal(activity.failureReportLog.admit('node1', now + 3000), 0, 'the failure after a success is logged');
  assert.equal(activity.failureReportLog.admit('node2', now + 3000), 0);
  activity.finish({ clientName: 'node2', backupNumber: 1, isSuccess: false, at: now + 4000, reason: 'dump failed' });
  assert.equal(activity.failureReportLog.admit('node2', now + 5000), undefined, 'a failure ends no run of failures');
});
