"""A new kernel is ready when its client says so (kernels/ready.py): a real ipykernel,
started by the kernel manager every point uses."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_mvdp.kernels.lifeline import LifelineKernelManager
from jupyter_mvdp.kernels.ready import PromptKernelClient


async def started_and_ran(code: str) -> tuple[object, list[bool], dict]:
    km = LifelineKernelManager(kernel_name="python3")
    await km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        msg_id = kc.execute(code)
        ours = []
        while True:  # what IOPub holds from here: the execution's messages, nothing older
            msg = await kc.get_iopub_msg(timeout=30)
            ours.append(msg["parent_header"].get("msg_id") == msg_id)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        reply = await kc.get_shell_msg(timeout=30)
        return kc, ours, reply
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


@pytest.mark.timeout(120)
def test_a_kernel_is_ready_with_its_iopub_connected_and_read():
    client, ours, reply = asyncio.run(started_and_ran("print(6 * 7)"))
    assert isinstance(client, PromptKernelClient)
    assert ours and all(ours)  # nothing of the start was left on IOPub
    assert reply["content"]["status"] == "ok"
