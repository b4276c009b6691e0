"""The fetch plumbing without a server: which source a URI names, the address policy, HTTP file
names and headers files, which S3 keys become files, and a folder source mirrored into DIR."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from oozo_contract.settings import FetchSettings, env_for
from oozo_runtime.sources import fetch as dispatch
from oozo_runtime.sources import sync
from oozo_runtime.sources.errors import SourceError
from oozo_runtime.sources.folder import fetch_folder
from oozo_runtime.sources.http import file_names, read_headers_file, redact_url
from oozo_runtime.sources.netguard import refusal
from oozo_runtime.sources.s3 import _Object, _select, parse_s3_uri


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("./docs", "folder"),
        ("/data/handbook", "folder"),
        ("s3://bucket/handbook", "s3"),
        ("git+https://git.example.com/team/docs.git@main#handbook", "git"),
        ("git+ssh://git@git.example.com/team/docs.git", "git"),
        ("https://example.com/a.pdf  http://example.com/b.md", "http"),
    ],
)
def test_a_uri_names_its_source_kind(source: str, kind: str) -> None:
    assert dispatch.source_kind(source)[0] == kind


@pytest.mark.parametrize("source", ["ftp://example.com/a.pdf", "s3://b/p https://example.com/a.md", "  "])
def test_a_uri_that_names_no_fetchable_source_is_invalid(source: str) -> None:
    with pytest.raises(SourceError) as invalid:
        dispatch.source_kind(source)
    assert invalid.value.reason == "SourceInvalid"


def test_a_git_source_without_the_git_fetcher_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(dispatch.FETCHERS, "git", "oozo_runtime.sources.no_such_fetcher:fetch_git")
    with pytest.raises(SourceError) as missing:
        dispatch.fetcher("git")
    assert (missing.value.reason, "need oozo_runtime.sources.no_such_fetcher" in missing.value.message) == (
        "SourceInvalid",
        True,
    )


@pytest.mark.parametrize(
    ("address", "refuse_private", "refused"),
    [
        ("169.254.169.254", False, True),
        ("fe80::1", False, True),
        ("::ffff:169.254.169.254", False, True),
        ("fd00:ec2::254", False, True),
        ("127.0.0.1", False, False),
        ("10.1.2.3", False, False),
        ("127.0.0.1", True, True),
        ("10.1.2.3", True, True),
        ("192.168.1.1", True, True),
        ("100.64.0.1", True, True),
        ("8.8.8.8", True, False),
        ("2606:4700::1111", True, False),
    ],
)
def test_link_local_is_always_refused_and_private_ranges_on_request(
    address: str, refuse_private: bool, refused: bool
) -> None:
    assert (refusal(ipaddress.ip_address(address), refuse_private=refuse_private) is not None) == refused


def test_http_file_names_keep_their_extension_and_colliding_names_get_a_digest() -> None:
    urls = [
        "https://a.example.com/docs/guide.md",
        "https://b.example.com/other/guide.md",
        "https://a.example.com/files/Leave%20policy.docx?download=1",
        "https://a.example.com/",
        "https://a.example.com/.hidden.txt",
    ]
    names = file_names(urls)
    assert names[urls[0]].startswith("guide-") and names[urls[0]].endswith(".md")
    assert names[urls[0]] != names[urls[1]]
    assert names[urls[2]] == "Leave_policy.docx"
    assert names[urls[3]] == "index.html"
    assert names[urls[4]] == "hidden.txt"  # a leading dot would hide it from the indexer
    assert file_names(list(reversed(urls))) == names  # deterministic, whatever the order


def test_a_url_is_shown_without_userinfo_query_or_fragment() -> None:
    assert redact_url("https://u:pw@example.com:8443/a/b.md?sig=abc#x") == "https://example.com:8443/a/b.md"


def test_a_bad_headers_file_line_is_named_by_number_never_by_content(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_text("# comment\n\nAuthorization: Bearer abc\nX-Team:  docs \n")
    assert read_headers_file(str(good)) == {"Authorization": "Bearer abc", "X-Team": "docs"}
    bad = tmp_path / "bad"
    bad.write_text("Authorization: Bearer abc\nBearer very-secret-token\n")
    with pytest.raises(SourceError) as invalid:
        read_headers_file(str(bad))
    assert "line 2" in invalid.value.message and "very-secret" not in invalid.value.message


def test_s3_keys_that_would_leave_the_folder_placeholders_and_oversized_objects_do_not_become_files() -> None:
    source = parse_s3_uri("s3://bucket/handbook/")
    listing = [
        _Object("handbook/", "e0", 0),
        _Object("handbook/hr/", "e1", 0),
        _Object("handbook/hr/leave.md", "e2", 10),
        _Object("handbook/../../etc/cron.d/x", "e3", 10),
        _Object("handbook//abs.md", "e4", 10),
        _Object("handbook/video.mp4", "e5", 5000),
        _Object("handbook/a", "e6", 1),
        _Object("handbook/a/b.md", "e7", 1),
    ]
    wanted, skipped = _select(listing, source, cap=1000)
    assert sorted(wanted) == ["a/b.md", "hr/leave.md"]
    assert {s.name: s.reason for s in skipped} == {
        "handbook/../../etc/cron.d/x": "key would leave the target folder",
        "handbook//abs.md": "key would leave the target folder",
        "handbook/video.mp4": "5000 bytes, over the 1000-byte cap",
        "handbook/a": "also a folder of other keys",
    }


def test_an_s3_uri_without_a_valid_bucket_is_invalid() -> None:
    for uri in ("s3://", "s3://UPPER/x", "s3://bucket/a/../x"):
        with pytest.raises(SourceError) as invalid:
            parse_s3_uri(uri)
        assert invalid.value.reason == "SourceInvalid"


def test_a_folder_source_is_mirrored_into_dir_and_only_changes_are_copied(tmp_path: Path) -> None:
    src, into, state = tmp_path / "src", tmp_path / "files", tmp_path / "state"
    (src / "hr").mkdir(parents=True)
    (src / "hr" / "leave.md").write_text("# Leave\n")
    (src / "travel.md").write_text("# Travel\n")
    (src / "passwd.md").symlink_to("/etc/passwd")
    first = fetch_folder(str(src), into, state)
    assert (first.fetched, first.unchanged, first.skipped_objects) == (2, 0, 1)
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*") if p.is_file()) == [
        "hr/leave.md",
        "travel.md",
    ]
    (into / "mine.txt").write_text("not written by a fetch")  # never deleted by Oozo
    (src / "hr" / "leave.md").unlink()
    second = fetch_folder(str(src), into, state)
    assert (second.fetched, second.unchanged, second.removed) == (0, 1, 1)
    assert second.revision != first.revision
    assert not (into / "hr").exists() and (into / "mine.txt").exists()


def test_into_and_the_state_folder_must_not_contain_each_other(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    with pytest.raises(SourceError) as invalid:
        fetch_folder(str(tmp_path / "src"), tmp_path / "files", tmp_path / "files" / "state")
    assert invalid.value.reason == "SourceInvalid"


def test_the_revision_digest_does_not_depend_on_order() -> None:
    assert sync.digest([("a", "1"), ("b", "2")]) == sync.digest([("b", "2"), ("a", "1")])
    assert sync.digest([("a", "1")]) != sync.digest([("a", "2")])


def test_fetch_settings_render_for_the_operator_and_default_the_state_dir_next_to_into() -> None:
    env = env_for(
        FetchSettings, source="s3://docs/handbook", into="/corpus/source-cache/files", s3_path_style=True
    )
    assert env == {
        "OOZO_SOURCE": "s3://docs/handbook",
        "OOZO_INTO": "/corpus/source-cache/files",
        "OOZO_S3_PATH_STYLE": "true",
    }
    settings = FetchSettings(source="./docs", into=Path("/x/files"))
    assert settings.resolved_state_dir() == Path("/x/files.fetch-state")


def test_another_source_fetched_into_the_same_dir_replaces_the_files_of_the_first(tmp_path: Path) -> None:
    first, second, into, state = tmp_path / "a", tmp_path / "b", tmp_path / "files", tmp_path / "state"
    first.mkdir()
    second.mkdir()
    (first / "old.md").write_text("# Old source\n")
    (second / "new.md").write_text("# New source\n")
    fetch_folder(str(first), into, state)
    switched = fetch_folder(str(second), into, state)
    assert (switched.fetched, switched.removed) == (1, 1)
    assert [p.name for p in into.iterdir()] == ["new.md"]


def test_oozo_fetch_without_a_uri_or_into_names_what_is_missing(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    oozo = Path(sys.executable).with_name("oozo")
    env = {"PATH": "/usr/bin:/bin"}
    done = subprocess.run([str(oozo), "fetch"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2
    assert json.loads(done.stderr.splitlines()[-1]) == {
        "error": "invalid settings: URI: Field required; --into: Field required",
        "reason": "InvalidSettings",
    }
    missing = tmp_path / "nowhere"
    done = subprocess.run(
        [str(oozo), "fetch", str(missing), "--into", str(tmp_path / "files")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1 and json.loads(done.stderr.splitlines()[-1])["reason"] == "SourceNotFound"
    assert not (tmp_path / "files").exists()


def test_a_fetch_result_from_before_skipped_because_unchanged_still_parses() -> None:
    from oozo_contract.fetch import FetchResult

    old = '{"kind":"s3","revision":"sha256:ab","fetched":1,"unchanged":2,"removed":0}'
    assert FetchResult.model_validate_json(old).skipped_because_unchanged is False


def test_a_manifest_from_before_source_revision_still_loads() -> None:
    from oozo_contract.manifest import Manifest

    assert Manifest.model_validate({"version": "20261124t120301z-1a2b3c4d"}).source_revision is None


def test_unless_revision_and_the_result_file_are_settings_of_oozo_fetch(tmp_path: Path) -> None:
    env = env_for(
        FetchSettings,
        source="s3://b/p",
        into=tmp_path / "f",
        unless_revision="abc",
        result_file=tmp_path / "r",
    )
    assert env["OOZO_UNLESS_REVISION"] == "abc" and env["OOZO_RESULT_FILE"] == str(tmp_path / "r")


def test_the_runtime_raises_and_the_operator_recognises_the_same_fetch_reasons() -> None:
    from oozo_contract import fetch as contract
    from oozo_operator.conditions import SOURCE_FAILURES as operator_side
    from oozo_runtime.sources import errors as runtime_side

    raised = {v for k, v in vars(runtime_side).items() if k.startswith("SOURCE_") and isinstance(v, str)}
    assert raised == set(contract.SOURCE_FAILURES) == set(operator_side)
    assert "SourceBusy" in raised
