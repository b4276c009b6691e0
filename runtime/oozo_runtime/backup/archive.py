"""Pack a version directory into tar + zstd as a stream, and unpack one without trusting it.

Packing is deterministic (sorted names, zeroed owners and times, normalised modes) and hashes
every file as it goes, so the artifact is proven to hold exactly what the manifest promises.
Unpacking accepts only plain files and directories with relative, dot-dot-free names; a link,
a device, an absolute path or a name escaping the target aborts with UnsafeArchive. It also
stops at the size the backup recorded for the tar stream (backup.json's uncompressedSizeBytes):
a member declaring more than is left, or a stream going on past it, aborts with
ExceedsRecordedSize before the bytes are written, so a small artifact cannot fill the volume.
"""

from __future__ import annotations

import os
import stat
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

from oozo_runtime import versions
from oozo_runtime.backup import errors as e
from oozo_runtime.backup.errors import BackupError
from oozo_runtime.backup.stream import BackgroundWriter, ByteSink, ByteSource

CHUNK = 1024 * 1024


def version_files(version_dir: Path) -> list[str]:
    """Every regular file under `version_dir`, as sorted POSIX relative paths."""
    files: list[str] = []
    for root, dirs, names in os.walk(version_dir):
        dirs.sort()
        for name in sorted(names):
            path = Path(root, name)
            mode = path.lstat().st_mode
            if not stat.S_ISREG(mode):
                raise BackupError(e.INDEX_CORRUPT, f"{path} is not a regular file; refusing to back it up")
            files.append(path.relative_to(version_dir).as_posix())
        for d in dirs:
            if Path(root, d).is_symlink():
                raise BackupError(e.INDEX_CORRUPT, f"{Path(root, d)} is a symlink; refusing to back it up")
    return sorted(files)


def _tarinfo(name: str, size: int, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _HashingReader:
    def __init__(self, raw: BinaryIO, algorithm: str) -> None:
        self.raw = raw
        self.hash = versions.new_checksum(algorithm)
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.size += len(data)
        return data


class _CountingWriter:
    """Counts the bytes of the tar stream on their way into the compressor."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@dataclass
class Packed:
    hashes: dict[str, str]  # {relpath: checksum} of the bytes actually packed
    tar_bytes: int  # the uncompressed tar stream's exact size: what a restore may unpack


def pack(
    version_dir: Path,
    out: ByteSink,
    *,
    level: int = -1,
    expected: dict[str, str] | None = None,
    algorithm: str = "sha256",
) -> Packed:
    """Write `version_dir` as tar + zstd to `out` (not closed). Returns the checksums of the
    bytes actually written (with `algorithm`), so the caller can compare them to the manifest,
    and the tar stream's size, which the backup records as the most a restore may unpack. With
    `expected`, a file whose checksum differs stops the packing right after that file, not at
    the end."""
    import zstandard

    hashes: dict[str, str] = {}
    files = version_files(version_dir)
    cctx = zstandard.ZstdCompressor(level=level)
    with cctx.stream_writer(cast(BinaryIO, out), closefd=False, write_size=CHUNK) as zout:
        counted = _CountingWriter(cast(BinaryIO, zout))
        _pack_files(version_dir, files, counted, hashes, expected, algorithm)
    return Packed(hashes, counted.size)


def _pack_files(
    version_dir: Path,
    files: list[str],
    out: _CountingWriter,
    hashes: dict[str, str],
    expected: dict[str, str] | None,
    algorithm: str,
) -> None:
    # Stream mode with 1 MiB records: with the 10 KiB default, tarfile re-slices its whole
    # buffer once per record, which is quadratic in the size of each write.
    with tarfile.open(
        fileobj=cast(BinaryIO, out), mode="w|", format=tarfile.PAX_FORMAT, bufsize=CHUNK
    ) as tar:
        tar.copybufsize = CHUNK  # type: ignore[attr-defined]  # read files in 1 MiB pieces, not 16 KiB
        dirs_done: set[str] = set()
        for rel in files:
            for parent in reversed(PurePosixPath(rel).parents[:-1]):
                if str(parent) not in dirs_done:
                    tar.addfile(_tarinfo(str(parent), 0, directory=True))
                    dirs_done.add(str(parent))
            path = version_dir / rel
            with path.open("rb") as f:
                size = os.fstat(f.fileno()).st_size
                reader = _HashingReader(f, algorithm)
                tar.addfile(_tarinfo(rel, size), reader)
                if reader.size != size:
                    raise BackupError(e.INDEX_CORRUPT, f"{path} changed size while it was packed")
                hashes[rel] = reader.hash.hexdigest()
                if expected is not None and rel in expected and expected[rel] != hashes[rel]:
                    raise BackupError(
                        e.VERIFICATION_FAILED,
                        f"{version_dir} does not match its manifest ({algorithm} differs: {rel})",
                    )


def _safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or path.is_absolute():
        raise BackupError(e.UNSAFE_ARCHIVE, f"archive member {name!r} has an absolute path")
    parts = [p for p in path.parts if p != "."]
    if not parts or any(p == ".." for p in parts):
        raise BackupError(e.UNSAFE_ARCHIVE, f"archive member {name!r} escapes the target directory")
    return "/".join(parts)


class _BoundedReader:
    """The decompressed tar stream, which may not go past `limit` bytes: the first byte beyond
    it aborts the unpack, whatever asked for it (a member's data, a PAX header, padding)."""

    def __init__(self, raw: BinaryIO, limit: int, what: str) -> None:
        self.raw, self.limit, self.what = raw, limit, what
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        left = self.limit - self.size
        # One byte more than is left: enough to tell "exactly at the limit" from "past it".
        data = self.raw.read(left + 1 if n < 0 else min(n, left + 1))
        self.size += len(data)
        if self.size > self.limit:
            raise BackupError(
                e.EXCEEDS_RECORDED_SIZE,
                f"the artifact unpacks to more than the {self.limit} bytes {self.what}; "
                "stopped there, nothing beyond it was written",
            )
        return data


def unpack(
    src: ByteSource, dest: Path, algorithm: str = "sha256", *, max_tar_bytes: int, limit_source: str
) -> dict[str, str]:
    """Unpack a tar + zstd stream into the empty directory `dest`, writing no more than the
    `max_tar_bytes` of tar stream the backup recorded (`limit_source` says where that number
    comes from, for the error). Returns {relpath: checksum} of what was written, with
    `algorithm`."""
    import zstandard

    hashes: dict[str, str] = {}
    dest_real = dest.resolve()
    dctx = zstandard.ZstdDecompressor()
    writer = BackgroundWriter()
    try:
        with dctx.stream_reader(cast(BinaryIO, src), read_size=CHUNK, closefd=False) as zin:
            bounded = _BoundedReader(cast(BinaryIO, zin), max_tar_bytes, limit_source)
            _unpack_members(bounded, dest, dest_real, algorithm, hashes, writer)
    except BackupError:
        raise
    except (tarfile.TarError, zstandard.ZstdError, EOFError) as exc:
        raise BackupError(
            e.VERIFICATION_FAILED, f"the artifact is not a valid tar + zstd archive: {exc}"
        ) from exc
    finally:
        # Every file handed over gets closed; a failed write raises here, unless another error
        # is already on its way out (that one says more about what went wrong first).
        writer.finish(raise_error=sys.exc_info()[1] is None)
    return hashes


def _unpack_members(
    bounded: _BoundedReader,
    dest: Path,
    dest_real: Path,
    algorithm: str,
    hashes: dict[str, str],
    writer: BackgroundWriter,
) -> None:
    with tarfile.open(fileobj=cast(BinaryIO, bounded), mode="r|", bufsize=CHUNK) as tar:
        for member in tar:
            name = _safe_name(member.name)
            if member.offset_data + member.size > bounded.limit:
                # Refused on its header, before a byte of it is written (the reader's own count
                # runs up to a buffer ahead of the member being read).
                raise BackupError(
                    e.EXCEEDS_RECORDED_SIZE,
                    f"archive member {member.name!r} declares {member.size} bytes, more than "
                    f"is left of the {bounded.limit} bytes {bounded.what}",
                )
            target = dest / name
            if not target.resolve().is_relative_to(dest_real):
                raise BackupError(e.UNSAFE_ARCHIVE, f"archive member {member.name!r} escapes the target")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            if not member.isreg():
                raise BackupError(
                    e.UNSAFE_ARCHIVE,
                    f"archive member {member.name!r} is not a regular file (links and devices refused)",
                )
            if name in hashes:
                raise BackupError(e.UNSAFE_ARCHIVE, f"archive member {member.name!r} appears twice")
            target.parent.mkdir(parents=True, exist_ok=True)
            fileobj = tar.extractfile(member)
            assert fileobj is not None  # a regular member always has data
            digest = versions.new_checksum(algorithm)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            out = os.fdopen(fd, "wb")
            try:
                while chunk := fileobj.read(CHUNK):
                    digest.update(chunk)
                    writer.write(out, chunk)
            finally:
                writer.close_file(out)
            hashes[name] = digest.hexdigest()
