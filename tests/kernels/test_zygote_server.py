"""The zygote trusts no one it did not create (kernels/zygote/server.py), on a real zygote:
a notebook finds no way to it, a connection its owner did not make is closed, no malformed
request (fuzzed) takes it down, and no connection stalls another."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_mvdp.kernels import zygote
from jupyter_mvdp.kernels.zygote.server import POINT_NAME
from tests.kernels.test_zygote import notebook, restart_forkserver, run
from tests.processes import kernels, wait_for
from tests.targets.test_local import local_manager


@pytest.fixture(scope="module")
def held(tmp_path_factory):
    """One zygote for the module (a notebook without imports: quick to start)."""
    restart_forkserver()
    root = tmp_path_factory.mktemp("zygote")
    nb = nbformat.read(notebook(root / "plain.ipynb", ["x = 1"]), as_version=4)
    z = zygote.POOL.acquire("hostile", nb, root, "python3")
    assert z is not None
    yield z
    zygote.POOL.release("hostile")


def kernel_command(tmp_path) -> list[str]:
    return [sys.executable, "-m", "ipykernel_launcher", "-f", str(tmp_path / "kernel.json")]


def forks_a_kernel(z, tmp_path) -> bool:
    """A well-formed request on a new connection gets a kernel (then stopped)."""
    with z.channel() as channel:
        forked = zygote.fork_kernel(
            channel, kernel_command(tmp_path), {"cwd": str(tmp_path), "env": z.env}
        )
    if forked is None:
        return False
    forked.kill()
    forked.wait(30)
    return True


def answer(channel: socket.socket) -> bytes:
    """What the zygote says before it closes the connection or goes quiet (empty: nothing)."""
    channel.settimeout(15)
    data = b""
    try:
        while not data.endswith(b"\n"):
            chunk, fds, _, _ = socket.recv_fds(channel, 1 << 16, 4)
            for fd in fds:
                os.close(fd)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    return data


def send(z, data: bytes, nfds: int = 3, half_close: bool = False) -> bytes:
    """``data`` with ``nfds`` descriptors (a pipe's ends) on a new connection; the answer."""
    pipes = [os.pipe() for _ in range((nfds + 1) // 2)]
    fds = [fd for pair in pipes for fd in pair][:nfds]
    try:
        with z.channel() as channel:
            channel.settimeout(15)
            try:
                if data:
                    sent = socket.send_fds(channel, [data[: 1 << 16]], fds) if fds else 0
                    channel.sendall(data[sent:])
                if half_close:
                    channel.shutdown(socket.SHUT_WR)
            except OSError:  # the zygote closed it mid-way (a body too large)
                pass
            return answer(channel)
    finally:
        for pair in pipes:
            for fd in pair:
                os.close(fd)


def request(**fields) -> bytes:
    return json.dumps(fields).encode() + b"\n"


MALFORMED = {
    "an empty object, 3 descriptors": (b"{}\n", 3),
    "not JSON": (b"hello\n", 3),
    "not UTF-8": (b"\xff\xfe{}\n", 3),
    "a list": (b"[1, 2, 3]\n", 3),
    "nested too deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", 3),
    "cmd missing": (request(cwd="/", env={}), 3),
    "cmd a string": (request(cmd="python", cwd="/", env={}), 3),
    "cmd empty": (request(cmd=[], cwd="/", env={}), 3),
    "cmd of numbers": (request(cmd=[1, 2, 3, 4, 5], cwd="/", env={}), 3),
    "cwd a number": (request(cmd=["python"], cwd=1, env={}), 3),
    "env a list": (request(cmd=["python"], cwd="/", env=[]), 3),
    "env of numbers": (request(cmd=["python"], cwd="/", env={"A": 1}), 3),
    "no descriptor": (request(cmd=["python"] * 5, cwd="/", env={}), 0),
    "one descriptor": (request(cmd=["python"] * 5, cwd="/", env={}), 1),
    "five descriptors": (request(cmd=["python"] * 5, cwd="/", env={}), 5),
    "two requests at once": (b"{}\n{}\n", 3),
    "a huge body": (b"x" * (5 << 20), 3),
    "a huge request": (b'{"env": {"A": "' + b"x" * (5 << 20) + b'"}}\n', 3),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_request_is_refused_and_the_zygote_lives_on(held, tmp_path, case):
    data, nfds = MALFORMED[case]
    said = send(held, data, nfds)
    assert said == b"" or "refused" in json.loads(said), said[:200]
    assert held.proc.poll() is None
    assert forks_a_kernel(held, tmp_path)


@pytest.mark.timeout(120)
def test_half_closed_and_dropped_connections_are_let_go(held, tmp_path):
    assert send(held, b'{"cmd": ["py', 3, half_close=True) == b""
    assert send(held, b"", 0, half_close=True) == b""
    channel = held.channel()
    channel.close()  # never used
    channel = held.channel()
    socket.send_fds(channel, [b'{"cmd":'], [1, 2, 2])
    channel.close()  # mid-request, descriptors sent
    assert held.proc.poll() is None
    assert forks_a_kernel(held, tmp_path)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=512),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["cmd", "cwd", "env", "x"]), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    ),
    newline=st.booleans(),
    nfds=st.integers(0, 5),
)
def test_fuzzed_requests_never_take_the_zygote_down(held, body, newline, nfds):
    said = send(held, body + (b"\n" if newline else b""), nfds, half_close=not newline)
    assert said == b"" or "refused" in json.loads(said), said[:200]
    assert held.proc.poll() is None


@pytest.mark.timeout(120)
def test_no_connection_stalls_another(held, tmp_path):
    """One connection trickles a request that never ends (as a stuck or hostile client
    would); another point's request is answered all the same, and the trickler is dropped."""
    stop = threading.Event()
    slow = held.channel()

    def trickle():
        with slow:
            try:
                socket.send_fds(slow, [b"{"], [1, 2, 2])
                while not stop.wait(0.5):
                    slow.send(b" ")
            except OSError:  # dropped by the zygote
                stop.set()

    threading.Thread(target=trickle, daemon=True).start()
    idle = held.channel()  # and one that says nothing at all
    try:
        assert forks_a_kernel(held, tmp_path)
        wait_for(stop.is_set, 30, "the trickling connection to be dropped")
    finally:
        stop.set()
        idle.close()


@pytest.mark.timeout(120)
def test_a_connection_its_owner_did_not_make_is_closed(held, tmp_path):
    """Only the owner hands out connections (over the zygote's control socket, which no
    one else holds); one made by another process is closed unanswered (SO_PEERCRED)."""
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:  # another process makes the pair and hands one end over
        a, b = socket.socketpair()
        socket.send_fds(theirs, [b"x"], [a.fileno(), b.fileno()])
        os._exit(0)
    os.waitpid(pid, 0)
    _, (a, b), _, _ = socket.recv_fds(ours, 16, 2)
    with socket.socket(fileno=a) as foreign, socket.socket(fileno=b) as zygote_end:
        with held._lock:
            socket.send_fds(held._ctl, [b"c"], [zygote_end.fileno()])
        foreign.settimeout(15)
        pipe = os.pipe()
        socket.send_fds(
            foreign, [request(cmd=kernel_command(tmp_path), cwd="/", env={})], [*pipe, 2]
        )
        assert answer(foreign) == b""  # closed: not even a refusal
        for fd in pipe:
            os.close(fd)
    ours.close()
    theirs.close()
    assert forks_a_kernel(held, tmp_path)


FINDER = [
    "import os\n"
    "from pathlib import Path\n"
    "from jupyter_mvdp import record\n"
    "found, sockets, pid = [], set(), os.getpid()\n"
    "while pid > 1:  # this kernel and its ancestors: what names the zygote, what they hold\n"
    "    proc = Path(f'/proc/{pid}')\n"
    "    try:\n"
    "        if b'MVDP_ZYGOTE' in (proc / 'environ').read_bytes():\n"
    "            found.append(f'the environment of {pid}')\n"
    "        sockets |= {os.readlink(fd) for fd in (proc / 'fd').iterdir()}\n"
    "    except OSError:  # not ours to read: not a notebook's either\n"
    "        pass\n"
    "    pid = int((proc / 'stat').read_text().rsplit(')', 1)[1].split()[1])\n"
    "for line in Path('/proc/net/unix').read_text().splitlines()[1:]:\n"
    "    fields = line.split()\n"
    "    if len(fields) > 7 and f'socket:[{fields[6]}]' in sockets:\n"
    "        found.append(f'a socket at {fields[7]}')\n"
    "record('found', ', '.join(found) or 'nothing')"
]


@pytest.mark.timeout(180)
def test_a_notebook_finds_no_way_to_the_zygote(tmp_path):
    """No environment of the kernel or its ancestors names the zygote, and none of them
    holds a socket with a path: a notebook has nothing to connect to."""
    notebook(tmp_path / "finder.ipynb", FINDER)
    with local_manager(tmp_path) as manager:
        (point,) = run(manager, "finder.ipynb")["points"]
    assert point["state"] == "success", point["error"]
    assert point["metrics"]["found"] == "nothing"


@pytest.mark.timeout(120)
def test_a_point_process_outlives_its_kernel_only_to_clean_up(held, tmp_path):
    """A forked kernel's parent is the point's own process (a subreaper), which ends once
    the kernel has: the zygote keeps no child behind."""
    with held.channel() as channel:
        forked = zygote.fork_kernel(
            channel, kernel_command(tmp_path), {"cwd": str(tmp_path), "env": held.env}
        )
    assert forked is not None
    stat = Path(f"/proc/{forked.pid}/stat").read_text()
    parent = int(stat.rsplit(")", 1)[1].split()[1])
    assert Path(f"/proc/{parent}/comm").read_text().strip() == POINT_NAME
    os.kill(forked.pid, signal.SIGKILL)
    forked.wait(30)
    wait_for(lambda: not os.path.exists(f"/proc/{parent}"), 30, "the point process to end")
    assert not kernels(held.pid)
