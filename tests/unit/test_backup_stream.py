"""The in-process pipe and the background writer that backup and restore run their stages on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from oozo_runtime.backup.stream import BackgroundWriter, ChunkPipe


def _produce(pipe: ChunkPipe, chunks: list[bytes]) -> threading.Thread:
    def run() -> None:
        try:
            for chunk in chunks:
                pipe.write(chunk)
        finally:
            pipe.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_reads_have_the_asked_size_until_the_end_whatever_the_chunking() -> None:
    data = bytes(range(256)) * 1000 + b"tail"
    chunks = [data[i : i + 777] for i in range(0, len(data), 777)]
    pipe = ChunkPipe(limit=4096)
    producer = _produce(pipe, chunks)
    sizes, out = [], b""
    while piece := pipe.read(1000):
        sizes.append(len(piece))
        out += piece
    producer.join()
    assert out == data
    assert set(sizes[:-1]) == {1000}  # exact parts, as an S3 multipart reader needs
    assert sizes[-1] == len(data) % 1000
    assert pipe.read(1000) == b""


def test_writer_reuse_of_its_buffer_does_not_change_what_was_written() -> None:
    pipe = ChunkPipe()
    buf = bytearray(b"abc")
    pipe.write(buf)
    buf[:] = b"xyz"
    pipe.close()
    assert pipe.read(10) == b"abc"


def test_an_aborted_reader_fails_the_blocked_producer_instead_of_hanging_it() -> None:
    pipe = ChunkPipe(limit=10)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for _ in range(100):
                pipe.write(b"0123456789")
        except BrokenPipeError as exc:
            errors.append(exc)

    producer = threading.Thread(target=run)
    producer.start()
    assert pipe.read(10) == b"0123456789"
    pipe.abort()
    producer.join(timeout=10)
    assert not producer.is_alive()
    assert len(errors) == 1
    assert pipe.read(10) == b""


def test_background_writer_writes_in_order_and_closes_every_file(tmp_path: Path) -> None:
    writer = BackgroundWriter(depth=2)
    files = []
    for n in range(3):
        out = (tmp_path / f"f{n}").open("wb")
        files.append(out)
        for i in range(50):
            writer.write(out, f"{n}:{i};".encode())
        writer.close_file(out)
    writer.finish()
    assert all(f.closed for f in files)
    assert (tmp_path / "f2").read_text() == "".join(f"2:{i};" for i in range(50))


def test_background_writer_reports_a_failed_write(tmp_path: Path) -> None:
    writer = BackgroundWriter()
    (tmp_path / "f").touch()
    out = (tmp_path / "f").open("rb")  # writing to a read-only file fails like a full disk
    writer.write(out, b"data")
    writer.close_file(out)
    with pytest.raises(OSError):
        writer.finish()
    assert out.closed
