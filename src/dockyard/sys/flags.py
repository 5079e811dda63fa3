"""Constants from <sys/mount.h>, <sched.h> and <linux/fs.h> (x86_64 and aarch64 share these
values)."""

from __future__ import annotations

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20

MNT_FORCE = 0x1
MNT_DETACH = 0x2

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# Inode attribute flags (FS_IOC_GETFLAGS/FS_IOC_SETFLAGS, chattr(1)'s letters).
FS_TOPDIR_FL = 0x00020000  # "T": the top of a directory hierarchy for ext4's Orlov allocator

# openat2(2) resolve flags (<linux/openat2.h>).
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
