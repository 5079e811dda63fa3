"""``bootstrap busybox`` and ``bootstrap debian`` (filled in below)."""
