// Proves special files (FIFO, socket, devices with major:minor) and owner names: ids ↔ names through
// NSS with a cache, and the tar rule for choosing the owner on restore.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { entryKind, statAt } from '../src/client/posix/at';
import { OwnerNames } from '../src/client/posix/owners';
import { makeDeviceAt, makeDeviceNumber, makeFifoAt, makeSocketAt, splitDeviceNumber } from '../src/client/posix/special-files';
import { posixWorkspace } from './support/posix-workspace';

const isRoot = process.geteuid?.() === 0;
const space = posixWorkspace('posix-special');

test('FIFOs and sockets are made with their mode', () => {
  makeFifoAt(space.fd, Buffer.from([0x66, 0xff]), 0o640);
  makeSocketAt(space.fd, 'socket', 0o600);
  assert.equal(entryKind(statAt(space.fd, Buffer.from([0x66, 0xff])).mode), 'fifo');
  assert.equal(entryKind(statAt(space.fd, 'socket').mode), 'socket');
  assert.throws(() => makeFifoAt(space.fd, 'socket', 0o600), { code: 'EEXIST', syscall: 'mknodat' });
});

test('device numbers keep major:minor, minors above 255 too', () => {
  for (const [major, minor] of [[1, 3], [8, 0], [240, 70_000], [4095, 1_048_575]]) {
    assert.deepEqual(splitDeviceNumber(makeDeviceNumber(major, minor)), { major, minor });
  }
});

test('character and block devices are made as root', { skip: isRoot ? false : 'mknod of a device needs root' }, () => {
  makeDeviceAt(space.fd, 'char', 'char', { major: 240, minor: 70_000 }, 0o620);
  makeDeviceAt(space.fd, 'block', 'block', makeDeviceNumber(7, 300), 0o660);
  const char = statAt(space.fd, 'char');
  const block = statAt(space.fd, 'block');
  assert.equal(entryKind(char.mode), 'char-device');
  assert.equal(entryKind(block.mode), 'block-device');
  assert.deepEqual(splitDeviceNumber(char.rdev), { major: 240, minor: 70_000 });
  assert.deepEqual(splitDeviceNumber(block.rdev), { major: 7, minor: 300 });
});

test('ids and names convert both ways; unknown ones are undefined, never an error', () => {
  const owners = new OwnerNames();
  assert.equal(owners.userName(0), 'root');
  assert.equal(owners.groupName(0), 'root');
  assert.equal(owners.userId('root'), 0);
  assert.equal(owners.groupId('root'), 0);
  assert.equal(owners.userName(54321), undefined);
  assert.equal(owners.groupName(54322), undefined);
  assert.equal(owners.userId('no-such-user-here'), undefined);
  assert.equal(owners.groupId('no-such-group-here'), undefined);
  assert.deepEqual(owners.describe(0, 54322), { uid: 0, gid: 54322, user: 'root' });
});

test('the owner to restore: a recorded name that exists here wins over the recorded id, else the id', () => {
  const owners = new OwnerNames();
  assert.deepEqual(owners.localIds({ uid: 4000, gid: 4001, user: 'root', group: 'root' }), { uid: 0, gid: 0 });
  assert.deepEqual(owners.localIds({ uid: 4000, gid: 4001, user: 'no-such-user-here', group: 'no-such-group-here' }), { uid: 4000, gid: 4001 });
  assert.deepEqual(owners.localIds({ uid: 4000, gid: 4001 }), { uid: 4000, gid: 4001 });
});
