"""A heartbeat's measurements, read with psutil, and what a role adds (a public PC's printers)."""

from __future__ import annotations

import time
from collections.abc import Callable

import psutil

from agent.protocol import DiskUsage, Metrics, Printer

# Filesystems that are not storage a technician cares about (snaps, overlays, RAM, pseudo-fs).
IGNORED_FSTYPES = frozenset(
    {"squashfs", "tmpfs", "devtmpfs", "overlay", "ramfs", "iso9660", "autofs", "proc", "sysfs"}
)
MAX_DISKS = 64
MAX_USERS = 64


class MetricsCollector:
    """Reads CPU, memory, disks, uptime, load, network counters and logged-in users.

    CPU use is the average since the previous :meth:`collect` (``cpu_percent(interval=None)``),
    so collecting never sleeps; the constructor takes the first reading.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._printers: Callable[[], list[Printer]] | None = None
        psutil.cpu_percent(interval=None)

    def watch_printers(self, printers: Callable[[], list[Printer]]) -> None:
        """Report what ``printers`` reads in each heartbeat: the role that prints calls this when
        it is wired (:mod:`agent.pc.printers`); other devices report none. It must return
        quickly and never raise: the heartbeat waits for it."""
        self._printers = printers

    def collect(self) -> Metrics:
        memory = psutil.virtual_memory()
        swap = psutil.swap_memory()
        net_sent, net_recv = _network_bytes()
        return Metrics(
            cpu_percent=_percent(psutil.cpu_percent(interval=None)),
            memory_total_bytes=memory.total,
            memory_used_bytes=memory.total - memory.available,
            memory_percent=_percent(memory.percent),
            uptime_s=max(0, int(self._clock() - psutil.boot_time())),
            load=[round(max(0.0, x), 2) for x in psutil.getloadavg()],
            swap_percent=_percent(swap.percent),
            disks=disk_usages(),
            net_bytes_sent=net_sent,
            net_bytes_recv=net_recv,
            users=sorted({u.name[:64] for u in psutil.users() if u.name})[:MAX_USERS],
            printers=self._printers() if self._printers is not None else [],
        )


def real_partitions() -> list[psutil._common.sdiskpart]:  # type: ignore[name-defined]
    """Mounted real filesystems, one per device (a device bind-mounted twice counts once)."""
    seen: set[str] = set()
    partitions = []
    for part in psutil.disk_partitions(all=False):
        if part.fstype in IGNORED_FSTYPES or part.device in seen:
            continue
        seen.add(part.device)
        partitions.append(part)
    return partitions[:MAX_DISKS]


def disk_usages() -> list[DiskUsage]:
    usages = []
    for part in real_partitions():
        try:
            usage = psutil.disk_usage(part.mountpoint)
        except OSError:  # unmounted between the two calls, or an unreadable mount
            continue
        usages.append(
            DiskUsage(
                mountpoint=part.mountpoint[:200],
                total_bytes=usage.total,
                used_bytes=usage.used,
                percent=_percent(usage.percent),
            )
        )
    return usages


def _network_bytes() -> tuple[int, int]:
    """Bytes sent and received on every interface but loopback."""
    sent = recv = 0
    for name, counters in psutil.net_io_counters(pernic=True).items():
        if name == "lo":
            continue
        sent += counters.bytes_sent
        recv += counters.bytes_recv
    return sent, recv


def _percent(value: float) -> float:
    return min(100.0, max(0.0, float(value)))
