{
  "targets": [
    {
      "target_name": "cpsbackup_posix",
      "sources": ["addon.c", "common.c", "at.c", "stat.c", "extents.c", "xattrs.c", "times.c", "special.c", "users.c", "gear.c", "lock.c", "flags.c", "writeback.c"],
      "defines": ["_GNU_SOURCE", "_FILE_OFFSET_BITS=64", "NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
