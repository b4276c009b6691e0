"""`fetch_http` against a real HTTP server on loopback: conditional GETs, the revision, one bad
URL among many, and the bounds (size, time, redirects, addresses). Loopback is a private range,
so every test but the refuse-private one runs with refuse_private=False."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from oozo_contract.fetch import FetchResult
from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.http import HEADERS_FILE_ENV, fetch_http
from tests.runtime.http_docs import TOKEN, DocServer, serve_docs


@pytest.fixture
def site() -> Iterator[DocServer]:
    yield from serve_docs()


@pytest.fixture
def into(tmp_path: Path) -> Path:
    return tmp_path / "files"


def fetch(urls: list[str], into: Path, **options: object) -> FetchResult:
    return fetch_http(urls, into, into.with_name("state"), **options)  # type: ignore[arg-type]


def files(into: Path) -> dict[str, bytes]:
    return {p.relative_to(into).as_posix(): p.read_bytes() for p in sorted(into.rglob("*")) if p.is_file()}


def test_first_fetch_brings_every_url_and_an_unchanged_refetch_costs_only_conditional_requests(
    site: DocServer, into: Path
) -> None:
    site.put("/docs/leave.md", b"# Leave\n\n27 days.\n")
    site.put("/docs/remote.txt", b"Remote work on Fridays.\n", etag=False)  # Last-Modified only
    urls = [site.url("/docs/leave.md"), site.url("/docs/remote.txt")]

    first = fetch(urls, into)
    assert (first.kind, first.fetched, first.unchanged, first.removed) == ("http", 2, 0, 0)
    assert files(into) == {"leave.md": b"# Leave\n\n27 days.\n", "remote.txt": b"Remote work on Fridays.\n"}
    assert first.revision.startswith("sha256:")

    mtime = (into / "leave.md").stat().st_mtime_ns
    again = fetch(urls, into)
    assert (again.fetched, again.unchanged, again.revision) == (0, 2, first.revision)
    assert "if-none-match" in site.asked("/docs/leave.md")[-1]
    assert "if-modified-since" in site.asked("/docs/remote.txt")[-1]
    assert (into / "leave.md").stat().st_mtime_ns == mtime  # not rewritten


def test_a_changed_document_is_fetched_again_and_changes_the_revision(site: DocServer, into: Path) -> None:
    site.put("/a.md", b"# A\n")
    site.put("/b.md", b"# B\n")
    urls = [site.url("/a.md"), site.url("/b.md")]
    first = fetch(urls, into)
    site.put("/b.md", b"# B, second edition\n")
    second = fetch(urls, into)
    assert (second.fetched, second.unchanged) == (1, 1)
    assert second.revision != first.revision
    assert (into / "b.md").read_bytes() == b"# B, second edition\n"


def test_one_404_among_many_is_skipped_with_its_reason_and_its_old_copy_removed(
    site: DocServer, into: Path
) -> None:
    site.put("/a.md", b"# A\n")
    site.put("/gone.md", b"# Gone soon\n")
    urls = [site.url("/a.md"), site.url("/gone.md")]
    fetch(urls, into)
    del site.docs["/gone.md"]
    result = fetch(urls, into)
    assert (result.fetched, result.unchanged, result.removed, result.skipped_objects) == (0, 1, 1, 1)
    assert result.skipped[0].name == site.url("/gone.md")
    assert result.skipped[0].reason == "SourceNotFound: HTTP 404"
    assert files(into) == {"a.md": b"# A\n"}


def test_every_url_failing_fails_the_fetch_and_leaves_the_folder_as_it_was(
    site: DocServer, into: Path
) -> None:
    site.put("/a.md", b"# A\n")
    fetch([site.url("/a.md")], into)
    del site.docs["/a.md"]
    with pytest.raises(SourceError) as failed:
        fetch([site.url("/a.md"), site.url("/never.md")], into)
    assert failed.value.reason == "SourceNotFound"
    assert files(into) == {"a.md": b"# A\n"}
    assert [p.name for p in into.parent.iterdir() if "staging" in p.name] == []


def test_a_link_local_url_is_refused_before_any_connection(into: Path) -> None:
    # 169.254.169.254 does not answer here: a connection attempt would end in SourceUnreachable
    # (or hang until the timeout), not in SourceRefused.
    with pytest.raises(SourceError) as refused:
        fetch(["http://169.254.169.254/latest/meta-data/iam.md"], into, timeout=30)
    assert refused.value.reason == "SourceRefused"
    assert "link-local" in refused.value.message
    with pytest.raises(SourceError) as mapped:
        fetch(["http://[::ffff:169.254.169.254]/x.md"], into)
    assert mapped.value.reason == "SourceRefused"


def test_a_redirect_to_link_local_is_refused(site: DocServer, into: Path) -> None:
    site.put("/a.md", b"# A\n")
    result = fetch([site.url("/a.md"), site.url("/to-metadata")], into)
    assert result.skipped[0].reason.startswith("SourceRefused: 169.254.169.254 is a link-local address")
    assert files(into) == {"a.md": b"# A\n"}


def test_private_addresses_are_refused_when_the_policy_says_so(site: DocServer, into: Path) -> None:
    site.put("/a.md", b"# A\n")
    with pytest.raises(SourceError) as refused:
        fetch([site.url("/a.md")], into, refuse_private=True)
    assert refused.value.reason == "SourceRefused"
    assert "private or loopback" in refused.value.message
    assert site.asked("/a.md") == []  # refused before connecting


def test_redirects_are_followed_up_to_the_limit_and_no_further(site: DocServer, into: Path) -> None:
    site.put("/docs/a.md", b"# A\n")
    ok = fetch([site.url("/redirect/2/docs/a.md")], into, max_redirects=2)
    assert ok.fetched == 1 and files(into) == {"a.md": b"# A\n"}
    with pytest.raises(SourceError) as looped:
        fetch([site.url("/loop")], into, max_redirects=3)
    assert (looped.value.reason, looped.value.message.endswith("more than 3 redirects")) == (
        "SourceRefused",
        True,
    )
    assert len(site.asked("/loop")) == 4


def test_a_slow_server_is_cut_at_the_time_limit(site: DocServer, into: Path) -> None:
    site.put("/a.md", b"# A\n")
    result = fetch([site.url("/a.md"), site.url("/slow")], into, timeout=1.0)
    assert result.skipped[0].reason == "SourceUnreachable: took longer than 1 s"
    assert sorted(files(into)) == ["a.md"]


@pytest.mark.parametrize("path", ["/declared-big", "/undeclared-big"])
def test_a_body_over_the_size_cap_is_skipped(site: DocServer, into: Path, path: str) -> None:
    site.put("/a.md", b"# A\n")
    result = fetch([site.url("/a.md"), site.url(path)], into, max_bytes=256 * 1024)
    assert result.skipped_objects == 1 and "over the" in result.skipped[0].reason
    assert result.skipped[0].reason.startswith("SourceRefused")
    assert sorted(files(into)) == ["a.md"]


def test_headers_from_the_file_reach_the_url_s_origin_only(
    site: DocServer, into: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = tmp_path / "headers"
    headers.write_text(f"# from a Secret\nAuthorization: {TOKEN}\n")
    monkeypatch.setenv(HEADERS_FILE_ENV, str(headers))
    site.put("/a.md", b"# A\n")
    result = fetch([site.url("/secret/report.md"), site.url("/a.md"), site.url("/to-other-origin")], into)
    assert (into / "report.md").read_bytes().startswith(b"# Secret report")
    # the redirect leads to another host name: the token is not sent there, so it is refused
    assert result.skipped[0].reason == f"SourceAuthFailed: HTTP 401 (check {HEADERS_FILE_ENV})"
    assert [h.get("authorization") for h in site.asked("/secret/report.md")] == [TOKEN, None]


def test_messages_name_the_url_without_its_credentials_or_query(site: DocServer, into: Path) -> None:
    site.put("/a.md", b"# A\n")
    secret_url = f"http://user:hunter22@127.0.0.1:{site.port}/missing.md?token=hunter33"
    result = fetch([site.url("/a.md"), secret_url], into)
    shown = result.model_dump_json()
    assert result.skipped[0].name == site.url("/missing.md")
    assert "hunter22" not in shown and "hunter33" not in shown
    with pytest.raises(SourceError) as failed:
        fetch([secret_url], into)
    assert "hunter" not in failed.value.message


def test_a_source_switched_from_a_folder_to_urls_leaves_none_of_the_folder_s_files(
    site: DocServer, into: Path, tmp_path: Path
) -> None:
    from oozo_runtime.sources.folder import fetch_folder

    folder = tmp_path / "handbook"
    folder.mkdir()
    (folder / "old.md").write_text("# From the folder\n")
    fetch_folder(str(folder), into, into.with_name("state"))
    site.put("/a.md", b"# A\n")
    result = fetch([site.url("/a.md")], into)
    assert (result.fetched, result.removed) == (1, 1)
    assert files(into) == {"a.md": b"# A\n"}


def test_unless_revision_with_a_304_everywhere_reports_unchanged_and_leaves_everything(
    site: DocServer, into: Path
) -> None:
    site.put("/a.md", b"# A\n")
    urls = [site.url("/a.md")]
    first = fetch(urls, into)
    state = (into.with_name("state") / "fetch-state.json").read_bytes()

    again = fetch(urls, into, unless_revision=first.revision)

    assert again.skipped_because_unchanged and again.revision == first.revision
    assert "if-none-match" in site.asked("/a.md")[-1]
    assert (into.with_name("state") / "fetch-state.json").read_bytes() == state
    site.put("/a.md", b"# A, changed\n")
    changed = fetch(urls, into, unless_revision=first.revision)
    assert not changed.skipped_because_unchanged and changed.fetched == 1
    assert files(into) == {"a.md": b"# A, changed\n"}
