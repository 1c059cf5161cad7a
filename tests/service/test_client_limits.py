"""The Python client says why an oversize body is refused, instead of "connection reset".

The service answers a body over `service.max_body_mb` (imports:
`service.max_import_mb`) with 413 before reading it, and closes the
connection; the client, still sending, saw only a reset. It now checks the
encoded body against the limits `/info` advertises before sending it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import polars as pl
import pytest

from nodespace_lab import errors
from nodespace_lab.service.api import PREFIX

from .running import RunningService, start_service

MB = 1024 * 1024
SETTINGS = {
    "NODESPACE_SERVICE_MAX_BODY_MB": "1",
    "NODESPACE_SERVICE_MAX_IMPORT_MB": "2",
    "NODESPACE_STORAGE_BUFFER_POOL_MB": "256",  # room for these large notes
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """A service with a 1 MB body limit and a 2 MB import limit."""
    running = start_service(tmp_path_factory.mktemp("client-limits"), settings=SETTINGS)
    yield running
    if running.process.poll() is None:
        running.stop()


def _frame(rows: int, size: int, title: str) -> pl.DataFrame:
    content = ("levain " * (size // 7 + 1))[:size]
    titles = [f"{title} {i}" for i in range(rows)]
    return pl.DataFrame({"title": titles, "content": [content] * rows})


def test_info_advertises_the_body_limits(service: RunningService) -> None:
    request = urllib.request.Request(
        service.info.url + f"{PREFIX}/info",
        headers={"Authorization": f"token {service.info.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        info = json.loads(answer.read())
    assert (info["max_body_bytes"], info["max_import_bytes"]) == (1 * MB, 2 * MB)


def test_an_oversize_create_names_the_size_the_limit_and_the_setting(
    service: RunningService,
) -> None:
    client = service.client()
    seq = client.seq
    with pytest.raises(errors.BodyTooLarge) as caught:
        # 12 MB: more than the sockets' buffers hold, so the service closes mid-send.
        client.create("text", "too large", "word " * 2_400_000)
    message = str(caught.value)
    assert "over the service's limit of 1 MB (1048576 bytes)" in message
    assert "service.max_body_mb" in message and "NODESPACE_SERVICE_MAX_BODY_MB" in message
    size = int(message.split("Request body of ")[1].split(" bytes")[0])
    assert 12_000_000 < size < 12_001_000  # the encoded body, JSON around the content
    assert isinstance(caught.value, errors.ValidationError)
    # Nothing was written, and the client still works afterwards.
    assert client.seq == seq
    assert client.find().where(title="too large").count() == 0


def test_an_oversize_import_names_its_own_limit(service: RunningService) -> None:
    client = service.client()
    seq = client.seq
    with pytest.raises(errors.BodyTooLarge) as caught:
        client.import_nodes(_frame(12, 900_000, "oversize import"))  # 14.4 MB as base64
    message = str(caught.value)
    assert "limit of 2 MB (2097152 bytes)" in message
    assert "service.max_import_mb" in message and "NODESPACE_SERVICE_MAX_IMPORT_MB" in message
    assert client.seq == seq
    assert client.find().where(title="oversize import 0").count() == 0


def test_bodies_just_under_the_limits_still_go_through(service: RunningService) -> None:
    client = service.client()
    content = ("crumb " * 170_000)[:1_000_000]  # the largest content a node may hold
    node = client.create("text", "just under", content)  # body ~1,000,100 of 1,048,576 bytes
    assert client.get(node.id).content == content
    # Frames travel as base64 Arrow: two rows of 760,000 bytes are ~2,030,000 of 2,097,152.
    assert client.import_nodes(_frame(2, 760_000, "under import")) == 2
    assert client.find().where(title="under import 1").count() == 1
