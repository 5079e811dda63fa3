"""Block IO and huge page limits, the same values written to either version's files (runc's
``fs/blkio.go``, ``fs/hugetlb.go``, ``fs2/io.go``, ``fs2/hugetlb.go``).

=====================  ==========================================  =========================
value                  cgroup v1                                   cgroup v2
=====================  ==========================================  =========================
weight (10..1000)      blkio.bfq.weight, else blkio.weight         io.bfq.weight as it is,
                                                                   else io.weight scaled to
                                                                   1..10000
leaf weight            blkio.leaf_weight                           (none)
device weights         blkio.bfq.weight_device, else                io.bfq.weight lines, when
                       blkio.weight_device: "8:0 500"              the kernel takes them
throttles              blkio.throttle.read_bps_device, ...:        io.max: "8:0 rbps=1048576"
                       "8:0 1048576"                               (wbps, riops, wiops)
huge pages             hugetlb.2MB.limit_in_bytes                  hugetlb.2MB.max
=====================  ==========================================  =========================
"""

from __future__ import annotations

import os

from dockyard.runtime.cgroups import fs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.runtime.cgroups import BlockIO

_THROTTLES = (("read_bps", "rbps"), ("write_bps", "wbps"), ("read_iops", "riops"),
              ("write_iops", "wiops"))


def io_weight(blkio_weight: int) -> int:
    """runc's ConvertBlkIOToIOWeightValue: blkio's 10..1000 onto io.weight's 1..10000."""
    return 1 + (blkio_weight - 10) * 9999 // 990


def set_blkio_v1(directory: str, block: BlockIO, warnings: list[str]) -> None:
    bfq = os.path.exists(os.path.join(directory, "blkio.bfq.weight"))
    weight_file = "blkio.bfq.weight" if bfq else "blkio.weight"
    device_file = "blkio.bfq.weight_device" if bfq else "blkio.weight_device"
    if block.weight:
        fs.write(directory, weight_file, str(block.weight), warnings)
    if block.leaf_weight:
        fs.write(directory, "blkio.leaf_weight", str(block.leaf_weight), warnings)
    for major, minor, weight, leaf in block.weight_device:
        if weight:
            fs.write(directory, device_file, f"{major}:{minor} {weight}", warnings)
        if leaf:
            fs.write(directory, "blkio.leaf_weight_device", f"{major}:{minor} {leaf}", warnings)
    for field, _ in _THROTTLES:
        for major, minor, rate in getattr(block, field):
            fs.write(directory, f"blkio.throttle.{field}_device", f"{major}:{minor} {rate}",
                     warnings)


def set_io_v2(directory: str, block: BlockIO, warnings: list[str]) -> None:
    bfq = os.path.exists(os.path.join(directory, "io.bfq.weight"))
    per_device = bfq and _bfq_takes_devices(directory)
    if block.weight:
        if bfq:
            fs.write(directory, "io.bfq.weight", str(block.weight), warnings)
        else:
            fs.write(directory, "io.weight", str(io_weight(block.weight)), warnings)
    if per_device:
        for major, minor, weight, _ in block.weight_device:
            if weight:
                fs.write(directory, "io.bfq.weight", f"{major}:{minor} {weight}", warnings)
    for field, key in _THROTTLES:
        for major, minor, rate in getattr(block, field):
            fs.write(directory, "io.max", f"{major}:{minor} {key}={rate}", warnings)


def _bfq_takes_devices(directory: str) -> bool:
    """Per-device BFQ weights (Linux 5.4): io.bfq.weight then reads "default N", not "N"."""
    return not fs.read(directory, "io.bfq.weight").strip().isdigit()


def set_hugetlb(directory: str, limits: tuple[tuple[str, int], ...], suffix: str,
                warnings: list[str]) -> None:
    """``suffix``: "limit_in_bytes" on v1, "max" on v2."""
    for size, limit in limits:
        fs.write(directory, f"hugetlb.{size}.{suffix}", str(limit), warnings)
