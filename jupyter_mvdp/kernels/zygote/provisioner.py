"""The worker's side: a kernel provisioner whose process is a kernel forked by the zygote
(``ForkedKernel``), and the kernel manager class papermill is given for it."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys

_ANSWER_SECONDS = 30.0


class ForkedKernel:
    """The ``subprocess.Popen`` face jupyter_client's LocalProvisioner expects, over a kernel
    that is a child of the zygote's point process: watched and signalled through a pidfd.
    Its exit status belongs to that process, so an exited kernel reports 0. Closing
    ``lifeline`` (this worker's end) tells the point process the point is over."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, pidfd: int, lifeline_r: int):
        self.pid, self.pidfd, self.lifeline = pid, pidfd, lifeline_r
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self.returncode = 0
            self._close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None and not select.select([self.pidfd], [], [], timeout)[0]:
            raise subprocess.TimeoutExpired("kernel", timeout)
        return self.poll() or 0

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self.pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _close(self) -> None:
        for fd in (self.pidfd, self.lifeline):
            with contextlib.suppress(OSError):
                os.close(fd)


def fork_kernel(channel: socket.socket, cmd: list[str], kwargs: dict) -> ForkedKernel | None:
    """Ask the zygote, over this worker's ``channel`` (pool.Zygote.channel), for a kernel
    running ``cmd`` with ``kwargs`` (Popen's); None when it cannot or will not (then the
    caller starts an ordinary kernel)."""
    if any(kwargs.get(k) is not None for k in ("stdin", "stdout", "stderr")):
        return None
    request = {
        "cmd": cmd,
        "cwd": os.path.abspath(kwargs.get("cwd") or os.getcwd()),
        "env": dict(kwargs.get("env") or os.environ),
    }
    data = json.dumps(request).encode() + b"\n"
    lifeline_r, lifeline_w = os.pipe()
    try:
        channel.settimeout(_ANSWER_SECONDS)
        sent = socket.send_fds(channel, [data], [lifeline_w, 1, 2])
        channel.sendall(data[sent:])  # a large environment goes in pieces
        reply, fds = _answer(channel)
    except (OSError, ValueError):
        reply, fds = {}, []
    finally:
        os.close(lifeline_w)
    if not isinstance(reply, dict) or not isinstance(reply.get("pid"), int) or len(fds) != 1:
        for fd in [lifeline_r, *fds]:
            os.close(fd)
        why = reply.get("refused") if isinstance(reply, dict) else None
        say_cold(why or "no answer from the zygote")
        return None
    return ForkedKernel(reply["pid"], fds[0], lifeline_r)


COLD: list[str] = []  # in a point's worker: why its kernels were not warm (its owner asks)


def say_cold(why: str) -> None:
    """The point's log (the worker's stderr) says why its kernel is not a warm one."""
    COLD.append(why)
    print(f"jupyter-mvdp: an ordinary kernel, not a warm one: {why}", file=sys.stderr)


def _answer(channel: socket.socket) -> tuple[object, list[int]]:
    """The zygote's one-line answer and the descriptors sent with it."""
    data, fds = b"", []
    while not data.endswith(b"\n") and len(data) < 1 << 16:
        chunk, more, _, _ = socket.recv_fds(channel, 1 << 16, 1)
        fds += more
        if not chunk:
            break
        data += chunk
    return json.loads(data or b"{}"), fds


def kernel_manager(channel: socket.socket):
    """A LifelineKernelManager class whose kernels come from the zygote at the other end of
    ``channel``."""
    import uuid

    from jupyter_client.provisioning import LocalProvisioner

    from ..lifeline import LifelineKernelManager

    class ZygoteProvisioner(LocalProvisioner):
        async def launch_kernel(self, cmd, **kwargs):
            forked = fork_kernel(channel, cmd, kwargs)
            if forked is None:
                return await super().launch_kernel(cmd, **kwargs)
            self.process = forked
            self.pid = self.pgid = forked.pid  # its own session: signals reach its group
            self.cwd = kwargs.get("cwd", os.getcwd())
            return self.connection_info

    class ZygoteKernelManager(LifelineKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            if self.provisioner is None:
                self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
                self.provisioner = ZygoteProvisioner(
                    kernel_id=self.kernel_id,
                    kernel_spec=self.kernel_spec,
                    parent=self,
                )
            return await super()._async_pre_start_kernel(**kw)

    return ZygoteKernelManager
