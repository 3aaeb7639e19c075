"""The kernel client of headless runs (``notebook.ready_client``): ready once the kernel
answered ``kernel_info`` and IOPub carried that request's idle status, without
jupyter_client's 0.2 s wait for IOPub silence; cells run as before."""

from __future__ import annotations

import asyncio
from queue import Empty
from typing import Any

from workbench import notebook


def _status(state: str, parent: str) -> dict[str, Any]:
    return {
        "msg_type": "status",
        "parent_header": {"msg_id": parent},
        "content": {"execution_state": state},
    }


class _Channel:
    """IOPub stand-in: hands out the queued messages, then times out (as zmq does)."""

    def __init__(self, msgs: list[dict[str, Any]]) -> None:
        self.msgs = list(msgs)
        self.timeouts: list[float] = []

    async def get_msg(self, timeout: float | None = None) -> dict[str, Any]:
        self.timeouts.append(float(timeout or 0))
        if not self.msgs:
            raise Empty
        return self.msgs.pop(0)


def _client(iopub: _Channel) -> Any:
    client = notebook.ready_client()()
    # the stand-in replaces the channel the client would open
    type(client).iopub_channel = property(lambda self: iopub)  # type: ignore[method-assign]
    return client


def test_idle_status_of_the_request_itself_makes_the_client_ready() -> None:
    """Another request's idle status (an earlier kernel_info, start-up chatter) is not
    enough; this request's idle is, at once, with messages left unread after it."""
    iopub = _Channel(
        [
            _status("starting", ""),
            _status("busy", "ki-1"),
            _status("idle", "ki-0"),  # an earlier request
            _status("busy", "ki-1"),
            _status("idle", "ki-1"),
            _status("busy", "later"),  # not drained: nbclient reads by parent
        ]
    )
    try:
        assert asyncio.run(_client(iopub)._idle_seen("ki-1")) is True
        assert iopub.msgs == [_status("busy", "later")]
        assert all(t == 0.2 for t in iopub.timeouts)
    finally:
        del notebook.ready_client().iopub_channel  # the class's own property again


def test_no_idle_status_within_the_wait_means_not_ready() -> None:
    """IOPub not connected yet (the status was published before the subscription): not
    ready, and kernel_info is asked again, as jupyter_client does."""
    iopub = _Channel([_status("busy", "ki-1")])
    try:
        assert asyncio.run(_client(iopub)._idle_seen("ki-1")) is False
    finally:
        del notebook.ready_client().iopub_channel


def test_a_real_kernel_is_ready_and_runs_cells_with_the_ready_client() -> None:
    """A kernel started as headless runs start it: its client is the ready client, gets
    ready, and the first request's output and reply are its own."""
    from jupyter_core.utils import run_sync

    km = notebook.ipc_kernel_manager()(kernel_name=notebook.kernel_name())
    run_sync(km.start_kernel)()
    try:
        kc = km.client()
        assert isinstance(kc, notebook.ready_client())

        async def run() -> tuple[str, list[str]]:
            kc.start_channels()
            await kc.wait_for_ready(timeout=120)
            msg_id = kc.execute("print(6 * 7)")
            # a kernel slow to start may answer a kernel_info asked twice twice: the late
            # reply is skipped, as nbclient skips every reply to another request
            while True:
                reply = await kc.get_shell_msg(timeout=60)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
                assert reply["msg_type"] == "kernel_info_reply"
            texts = []
            while True:
                msg = await kc.get_iopub_msg(timeout=60)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    texts.append(msg["content"]["text"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            kc.stop_channels()
            return reply["content"]["status"], texts

        status, texts = run_sync(run)()
        assert status == "ok"
        assert "".join(texts).split() == ["42"]
    finally:
        run_sync(km.shutdown_kernel)(now=True)
        run_sync(km.cleanup_resources)()
