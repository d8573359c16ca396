/* fstatat and directory listing by fd: what a backup needs to know of an entry, with nanosecond
 * times and 64-bit inode/device numbers kept exact as BigInts. */
#include "common.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The BigInt64Array an answer is written into, of at least count elements, or NULL with a TypeError thrown. */
static int64_t *get_answer_array(napi_env env, napi_value value, size_t count, const char *expected) {
  void *data;
  size_t length;
  if (!get_typed_array(env, value, napi_bigint64_array, "out", expected, &data, &length)) return NULL;
  if (length < count) {
    char message[96];
    snprintf(message, sizeof message, "out must be %s", expected);
    throw_type_error(env, message);
    return NULL;
  }
  return (int64_t *)data;
}

/* fstatatInto(dirfd, name, flags, out: BigInt64Array(16)): fstatat's answer as 64-bit integers in the order
 * mode, uid, gid, nlink, size, blocks, blksize, ino, dev, rdev, atime seconds, atime nanoseconds, mtime
 * seconds, mtime nanoseconds, ctime seconds, ctime nanoseconds (ino, dev and rdev as their unsigned bit
 * patterns). Each time stays a (seconds, nanoseconds) pair as struct timespec holds it: one nanosecond
 * count overflowed int64 after 2262-04-11 and a year-2446 mtime was recorded as 1861. Building the object
 * here cost three times the syscall; the caller builds it in JavaScript, where its shape is known. */
static napi_value js_fstatat_into(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t dirfd, flags;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_int32(env, argv[2], "flags", &flags)) return NULL;
  int64_t *out = get_answer_array(env, argv[3], 16, "a BigInt64Array of 16 elements");
  if (out == NULL) return NULL;
  name_arg name;
  if (!get_name(env, argv[1], "name", &name)) return NULL;
  struct stat st;
  if (fstatat(dirfd, name.bytes, &st, flags) != 0) {
    throw_errno(env, errno, "fstatat", name.bytes, name.length);
    free_name(&name);
    return NULL;
  }
  free_name(&name);
  out[0] = (int64_t)st.st_mode;
  out[1] = (int64_t)st.st_uid;
  out[2] = (int64_t)st.st_gid;
  out[3] = (int64_t)st.st_nlink;
  out[4] = (int64_t)st.st_size;
  out[5] = (int64_t)st.st_blocks;
  out[6] = (int64_t)st.st_blksize;
  out[7] = (int64_t)(uint64_t)st.st_ino;
  out[8] = (int64_t)(uint64_t)st.st_dev;
  out[9] = (int64_t)(uint64_t)st.st_rdev;
  out[10] = (int64_t)st.st_atim.tv_sec;
  out[11] = (int64_t)st.st_atim.tv_nsec;
  out[12] = (int64_t)st.st_mtim.tv_sec;
  out[13] = (int64_t)st.st_mtim.tv_nsec;
  out[14] = (int64_t)st.st_ctim.tv_sec;
  out[15] = (int64_t)st.st_ctim.tv_nsec;
  return NULL;
}

/* readdirAt(dirfd) -> Buffer: the folder's listing in one buffer, every name but "." and ".." in
 * directory order: the count (8 bytes), each name's inode number as the folder lists it (d_ino, 8 bytes
 * each), then the names, each ended by a NUL (no name holds one). In the machine's byte order. One
 * buffer, not one per name: each Buffer made here is a backing store of its own to allocate and sweep,
 * and those were most of a listing's cost. The fd is duplicated because closedir closes what fdopendir
 * took; the shared offset is rewound first. */
static napi_value js_readdir_at(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t dirfd;
  if (!get_int32(env, argv[0], "dirfd", &dirfd)) return NULL;
  int copy = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw_errno(env, errno, "fcntl", NULL, 0);
    return NULL;
  }
  DIR *directory = fdopendir(copy);
  if (directory == NULL) {
    int error_number = errno;
    close(copy);
    throw_errno(env, error_number, "fdopendir", NULL, 0);
    return NULL;
  }
  rewinddir(directory);
  uint64_t count = 0;
  size_t inode_capacity = 64, name_capacity = 4096, name_length = 0;
  uint64_t *inodes = malloc(inode_capacity * sizeof(uint64_t));
  char *names = malloc(name_capacity);
  int error_number = inodes == NULL || names == NULL ? ENOMEM : 0;
  while (error_number == 0) {
    errno = 0;
    struct dirent *entry = readdir(directory);
    if (entry == NULL) {
      error_number = errno;
      break;
    }
    const char *name = entry->d_name;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) continue;
    size_t length = strlen(name) + 1;
    if (count == inode_capacity) {
      uint64_t *grown = realloc(inodes, inode_capacity * 2 * sizeof(uint64_t));
      if (grown == NULL) {
        error_number = ENOMEM;
        break;
      }
      inodes = grown;
      inode_capacity *= 2;
    }
    if (name_length + length > name_capacity) {
      while (name_length + length > name_capacity) name_capacity *= 2;
      char *grown = realloc(names, name_capacity);
      if (grown == NULL) {
        error_number = ENOMEM;
        break;
      }
      names = grown;
    }
    inodes[count++] = (uint64_t)entry->d_ino;
    memcpy(names + name_length, name, length);
    name_length += length;
  }
  closedir(directory);
  napi_value listing = NULL;
  if (error_number != 0) {
    throw_errno(env, error_number, error_number == ENOMEM ? "malloc" : "readdir", NULL, 0);
  } else {
    size_t head = (1 + count) * sizeof(uint64_t);
    void *data;
    if (napi_create_buffer(env, head + name_length, &data, &listing) == napi_ok) {
      memcpy(data, &count, sizeof(uint64_t));
      if (count > 0) memcpy((char *)data + sizeof(uint64_t), inodes, count * sizeof(uint64_t));
      if (name_length > 0) memcpy((char *)data + head, names, name_length);
    }
  }
  free(inodes);
  free(names);
  return listing;
}

/* birthTimeInto(dirfd, name, flags, out: BigInt64Array(3)): statx's birth time (btime) in nanoseconds since
 * the epoch, 0 where the file system keeps none (the field is zero then, which would read as a file born
 * in 1970), then the inode number and device of the inode asked, so that the caller can tell it is the
 * one it means: by name, another may have taken the name since. Asked of the few entries changed during
 * a backup (moved-entries.ts), so its cost is not on the walk's path. */
static napi_value js_birth_time_into(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  int32_t dirfd, flags;
  if (!get_int32(env, argv[0], "dirfd", &dirfd) || !get_int32(env, argv[2], "flags", &flags)) return NULL;
  int64_t *out = get_answer_array(env, argv[3], 3, "a BigInt64Array of 3 elements");
  if (out == NULL) return NULL;
  name_arg name;
  if (!get_name(env, argv[1], "name", &name)) return NULL;
  struct statx stx;
  int result;
  RETRY_EINTR(result, statx(dirfd, name.bytes, flags | AT_STATX_SYNC_AS_STAT, STATX_BTIME | STATX_INO, &stx));
  if (result != 0) {
    throw_errno(env, errno, "statx", name.bytes, name.length);
    free_name(&name);
    return NULL;
  }
  free_name(&name);
  bool has_birth = (stx.stx_mask & STATX_BTIME) != 0 && stx.stx_btime.tv_sec > 0 && stx.stx_btime.tv_sec < INT64_MAX / 1000000000 - 1;
  out[0] = has_birth ? (int64_t)stx.stx_btime.tv_sec * 1000000000LL + stx.stx_btime.tv_nsec : 0;
  out[1] = (int64_t)stx.stx_ino;
  out[2] = (int64_t)makedev(stx.stx_dev_major, stx.stx_dev_minor);
  return NULL;
}

bool register_stat(napi_env env, napi_value exports) {
  return export_function(env, exports, "fstatatInto", js_fstatat_into) && export_function(env, exports, "readdirAt", js_readdir_at)
    && export_function(env, exports, "birthTimeInto", js_birth_time_into);
}
