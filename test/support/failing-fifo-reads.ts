// A read(2) failing with EIO on FIFOs whose path holds FAILING_FIFO_MARKER, preloaded (LD_PRELOAD) into
// a real client process. Linux's pipe_read gives no errno a reader could meet (EAGAIN and EINTR are
// libuv's to retry, EFAULT is a bug), so a FIFO's failed read can only be injected, at the syscall.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const FAILING_FIFO_MARKER = 'read-fails-with-eio';
/** The environment variable that makes only the Nth and later reads of a marked FIFO fail (default: every read). */
export const FAIL_FROM_READ_VARIABLE = 'CPSBACKUP_TEST_FAIL_FROM_READ';

const SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads of marked FIFOs so far, by fd: ${FAIL_FROM_READ_VARIABLE}=N lets the first N-1 through. */
static int reads_by_fd[4096];

ssize_t read(int fd, void *buffer, size_t count) {
  static ssize_t (*real_read)(int, void *, size_t);
  if (real_read == NULL) real_read = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
  struct stat st;
  if (fd >= 0 && fd < 4096 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
    char link[64], target[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t length = readlink(link, target, sizeof target - 1);
    if (length > 0) {
      target[length] = 0;
      const char *from = getenv("${FAIL_FROM_READ_VARIABLE}");
      if (strstr(target, "${FAILING_FIFO_MARKER}") != NULL && ++reads_by_fd[fd] >= (from == NULL ? 1 : atoi(from))) {
        errno = EIO;
        return -1;
      }
    }
  }
  return real_read(fd, buffer, count);
}
`;

/** Builds the preload library in `folder`; undefined when no C compiler is here. */
export function buildFailingFifoReads(folder: string): string | undefined {
  const source = join(folder, 'failing-fifo-reads.c');
  const library = join(folder, 'failing-fifo-reads.so');
  writeFileSync(source, SOURCE);
  try {
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', library, source, '-ldl'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  return library;
}
