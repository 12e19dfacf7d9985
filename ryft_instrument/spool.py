"""The disk spool (``RYFT_SPOOL_DIR``, SPEC §6): batches that cannot be delivered wait on disk for the endpoint.

One batch is one gzip file of serialised records, one per line (gzip's CRC catches a damaged file). Files are
written under a temporary name and renamed into place, so a reader never sees half a file, with mode 0600 in a
directory made 0700; only records go to disk, never the token. The name carries the creation time and the record
count: ``<created ms>-<records>-<pid>-<random>.jsonl.gz``, so files sort oldest first and an expired file is
counted without opening it.

Several processes may share a directory. A process takes a file by renaming it to a *lease*
(``<name>.lease.<host>.<pid>.<process token>``): rename is atomic, so exactly one process wins it and sends it. A
lease whose owner died (same host, pid gone or reused) or that is older than ``LEASE_TTL`` goes back into play.
Damaged files are renamed ``*.corrupt`` and set aside: counted, never a crash.
"""

from __future__ import annotations

import gzip
import logging
import os
import socket
import time
import zlib
from collections import deque
from hashlib import sha1
from typing import Optional

from . import counters, logs

log = logs.log

SUFFIX = ".jsonl.gz"
MAX_BYTES = 256 * 1024 * 1024
MAX_AGE = 48 * 3600.0
LEASE_TTL = 300.0
RESCAN_INTERVAL = 2.0
_TMP = ".tmp-"


def _host_id() -> str:
    try:
        name = socket.gethostname()
    except Exception:
        name = ""
    return sha1(name.encode("utf-8", "replace")).hexdigest()[:8]


class Claim:
    """A leased spool file: deliver ``lines``, then ``done()`` (delete) or ``release()`` (hand it back)."""

    def __init__(self, spool: Spool, name: str, lease: str, created: float, lines: list[str]) -> None:
        self.spool = spool
        self.name = name
        self.lease = lease
        self.created = created
        self.lines = lines

    def done(self) -> None:
        self.spool._remove(self.lease)

    def release(self) -> None:
        try:
            os.rename(self.spool._path(self.lease), self.spool._path(self.name))
        except OSError:
            log.debug("ryft_instrument: cannot release spool lease %s", self.lease, exc_info=True)


class Spool:
    """A spool directory as seen by one process (a forked child makes its own, with a new process token)."""

    def __init__(self, directory: str, max_bytes: Optional[int] = None, max_age: Optional[float] = None) -> None:
        self.directory = directory
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.max_age = MAX_AGE if max_age is None else max_age
        self.pid = os.getpid()
        self.token = os.urandom(4).hex()
        self.host = _host_id()
        self._usage = 0
        self._scanned_at = -1e9
        self._waiting: deque[str] = deque()
        self._ready = False

    def __repr__(self) -> str:
        return "Spool(%r)" % self.directory

    # -- writing ---------------------------------------------------------------------------------------------

    def write(self, lines: list[str], created: Optional[float] = None) -> Optional[str]:
        """Keep ``lines`` in a new file. None when done, else the ``stats()`` counter that the lines are lost to:
        ``dropped_spool_full`` (the size cap) or ``dropped_spool_error`` (the directory is unusable)."""
        if not self._prepare():
            return "dropped_spool_error"
        data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"), compresslevel=1)
        if self.usage() + len(data) > self.max_bytes:
            logs.limited(logging.WARNING, "spool_full", "ryft_instrument: the spool %s is full (%d bytes); records "
                         "are dropped until it drains", self.directory, self.max_bytes)
            return "dropped_spool_full"
        stamp = time.time() if created is None else created
        name = "%013d-%d-%d-%s%s" % (int(stamp * 1000), len(lines), self.pid, os.urandom(6).hex(), SUFFIX)
        tmp_name = "%s%d-%s" % (_TMP, self.pid, name)
        tmp = self._path(tmp_name)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.rename(tmp, self._path(name))
        except OSError as exc:
            self._remove(tmp_name)
            logs.limited(logging.WARNING, "spool_write", "ryft_instrument: cannot write to the spool %s: %s",
                         self.directory, exc)
            return "dropped_spool_error"
        self._usage += len(data)
        return None

    def _prepare(self) -> bool:
        if self._ready:
            return True
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
        except OSError as exc:
            logs.limited(logging.WARNING, "spool_write", "ryft_instrument: cannot use the spool %s: %s",
                         self.directory, exc)
            return False
        self._ready = True
        return True

    def usage(self) -> int:
        """Bytes in the directory: rescanned every ``RESCAN_INTERVAL`` (other processes write too), else estimated."""
        if time.monotonic() - self._scanned_at >= RESCAN_INTERVAL:
            self._scan()
        return self._usage

    # -- reading ---------------------------------------------------------------------------------------------

    def claim(self) -> Optional[Claim]:
        """Lease the oldest waiting file and read it; None when there is none. Expired files are deleted and
        counted, damaged ones set aside, on the way."""
        if not self._waiting or time.monotonic() - self._scanned_at >= RESCAN_INTERVAL:
            self._scan()
        while self._waiting:
            name = self._waiting.popleft()
            lease = "%s.lease.%s.%d.%s" % (name, self.host, self.pid, self.token)
            try:
                os.rename(self._path(name), self._path(lease))
            except OSError:
                continue  # another process took it first
            try:
                os.utime(self._path(lease))  # the lease's age is its mtime
            except OSError:
                pass
            created, count = _parse_name(name)
            if time.time() - created > self.max_age:
                self._remove(lease)
                counters.add("dropped_spool_expired", count)
                logs.limited(logging.WARNING, "spool_expired", "ryft_instrument: spooled records older than %d h "
                             "were deleted unsent", self.max_age // 3600)
                continue
            lines = self._read(lease)
            if lines is None:
                continue
            return Claim(self, name, lease, created, lines)
        return None

    def _read(self, lease: str) -> Optional[list[str]]:
        try:
            with open(self._path(lease), "rb") as handle:
                text = gzip.decompress(handle.read()).decode("utf-8", "surrogatepass")
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            if not lines or not all(line.startswith("{") and line.endswith("}") for line in lines):
                raise ValueError("not a spool file")
            return lines
        except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
            counters.add("spool_corrupt")
            aside = lease.split(".lease.", 1)[0] + ".corrupt"
            try:
                os.rename(self._path(lease), self._path(aside))
            except OSError:
                self._remove(lease)
            logs.limited(logging.WARNING, "spool_corrupt", "ryft_instrument: a damaged spool file was set aside as "
                         "%s (%s)", aside, type(exc).__name__)
            return None

    def _scan(self) -> None:
        """List the waiting files, oldest first; also measures usage, reclaims abandoned leases and clears old
        debris."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            self._usage = 0
            return
        now = time.time()
        waiting: list[str] = []
        usage = 0
        for name in names:
            try:
                stat = os.stat(self._path(name))
            except OSError:
                continue
            if name.startswith(_TMP) or name.endswith(".corrupt"):
                if now - stat.st_mtime > (LEASE_TTL if name.startswith(_TMP) else self.max_age):
                    self._remove(name)
                    continue
            elif name.endswith(SUFFIX):
                waiting.append(name)
            elif ".lease." in name:
                if self._abandoned(name, now - stat.st_mtime):
                    try:
                        os.rename(self._path(name), self._path(name.split(".lease.", 1)[0]))
                        waiting.append(name.split(".lease.", 1)[0])
                    except OSError:
                        pass
            else:
                continue
            usage += stat.st_size
        self._usage = usage
        self._scanned_at = time.monotonic()
        waiting.sort()
        self._waiting = deque(waiting)

    def _abandoned(self, lease: str, age: float) -> bool:
        if age > LEASE_TTL:
            return True
        try:
            host, pid_text, token = lease.rsplit(".lease.", 1)[1].split(".")
            pid = int(pid_text)
        except ValueError:
            return True
        if host != self.host:
            return False  # another machine on a shared directory: only its age tells
        if pid == self.pid:
            return token != self.token  # our pid, another incarnation (containers reuse pid 1)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False

    # -- helpers ---------------------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _remove(self, name: str) -> None:
        path = self._path(name)
        try:
            size = os.stat(path).st_size
            os.unlink(path)
            self._usage = max(0, self._usage - size)
        except OSError:
            pass


def _parse_name(name: str) -> tuple[float, int]:
    """(creation time, record count) from a spool file's name; (0, 0) for a foreign name (it then expires)."""
    try:
        created, count = name.split("-", 2)[:2]
        return int(created) / 1000.0, int(count)
    except ValueError:
        return 0.0, 0
