"""Every shell command in README.md, docs/*.md, charts/oozo/README.md and examples/**/README.md
is run by a test that reads it from the page (`tests.doc_commands.documented`), or is in the short
reviewed exemption list below with the reason and the place it is exercised. A new command no
test runs fails here, naming the page, the line and the command; so does a claim whose command
was removed from the page, and a claim that is not made by a test."""

from __future__ import annotations

import pytest

from tests import doc_claims
from tests.doc_commands import (
    FencedBlock,
    all_commands,
    commands_in,
    documentation_pages,
    fenced_blocks,
    mistagged_blocks,
    without_trailing_comment,
)

THIS_FILE = "tests/unit/test_doc_commands.py"

# (page, command exactly as extracted) → why no test runs it, and where it is exercised instead.
# Reviewed: keep it short; every entry is a command that is heavy, installs from the network or
# needs what the test cluster cannot offer.
EXEMPT: dict[tuple[str, str], str] = {
    ("README.md", "make test"): "is the suite itself; CI runs it",
    ("README.md", "make dev"): "creates the .venv every test runs from; CI runs it before the suite",
    ("README.md", "make images"): "builds three images with podman (minutes); `make test-containers` "
    "builds them with the same hack/images/build.sh (tests/containers/conftest.py)",
    ("docs/containers.md", "make images"): "the same command as README.md's, exercised there",
    ("README.md", "make test-containers"): "a test tier itself (tests/containers), run by CI",
    ("README.md", "make demo"): "the whole loop with the model on a fresh plane (minutes); its steps "
    "(the demo overlay applied, Ready, a question answered) are tests/controlplane/"
    "test_operator_examples.py::test_quickstart_goes_ready and tests/e2e/test_quickstart_loop.py",
    ("docs/quickstart.md", "make demo"): "the same command as README.md's, exercised there",
    ("docs/install.md", "make kind-e2e"): "needs kind and Docker or podman; not run in CI (Makefile)",
    (
        "docs/operator.md",
        "kubectl apply --server-side -f crds/ragcorpus.yaml -f deploy/rbac.yaml -f deploy/policy.yaml"
        " -f deploy/operator.yaml",
    ): "would install a second operator and the cluster-wide admission policy on the API server the "
    "control-plane tier shares; the files are applied one by one instead: crds/ by "
    "devcluster.ragcorpus.install_crd, deploy/rbac.yaml by test_operator_rbac, deploy/policy.yaml by "
    "test_corpus_policy_admission, deploy/operator.yaml checked by unit/test_operator_deploy",
    ("docs/install.md", "helm test oozo --namespace oozo-system"): "the hook pod reaches the "
    "operator by its Service's cluster DNS name, which pods of the local kubelet cannot resolve; "
    "test_chart.py renders the hook for every value set, checks each URL reaches the operator's "
    "port through the Service, and runs the hook's own script against a live operator",
    ("docs/kubectl-plugin.md", "kubectl port-forward -n docs svc/handbook 8080:80 &"): "the local "
    "kubelet serves no kubelet API, so the API server cannot port-forward to its pods; the plugin "
    "tests give the documented --endpoint the Service's endpoint instead",
}


def test_every_documented_command_is_run_by_a_test_or_exempt_with_a_reason() -> None:
    scan = doc_claims.scan(exclude=(THIS_FILE,))
    claimed = {(c.doc, c.line) for claim in scan.claims for c in claim.commands()}
    exempt = set(EXEMPT)
    unclaimed = [
        f"{c.doc}:{c.line}: {c.text}"
        for c in all_commands()
        if (c.doc, c.line) not in claimed and (c.doc, c.text) not in exempt
    ]
    assert not unclaimed, (
        "documented commands no test runs (run each in a test through "
        "tests.doc_commands.documented(...), or add a reviewed exemption here):\n" + "\n".join(unclaimed)
    )


def test_every_claim_names_a_documented_command_and_a_running_test() -> None:
    scan = doc_claims.scan(exclude=(THIS_FILE,))
    stale = [
        f"{claim.where}: {claim.doc} has no command starting with {claim.startswith!r}"
        f" containing {claim.contains!r}"
        for claim in scan.claims
        if not claim.commands()
    ]
    assert not stale + scan.errors, "\n".join(stale + scan.errors)


def test_every_exemption_names_a_documented_command() -> None:
    documented = {(c.doc, c.text) for c in all_commands()}
    assert not [key for key in EXEMPT if key not in documented], "stale exemptions"


def test_no_command_hides_in_an_untagged_block() -> None:
    hidden = [f"{b.doc}:{b.line}: {b.body[0].strip()}" for b in mistagged_blocks()]
    assert not hidden, "tag these blocks `sh`/`console` (commands) or `text`:\n" + "\n".join(hidden)


def test_the_pages_searched_are_the_documentation() -> None:
    pages = documentation_pages()
    assert {"README.md", "docs/querying.md", "charts/oozo/README.md"} <= set(pages)
    assert len(all_commands()) > 40  # the extractor still finds the commands it found when written


PAGE = """\
Some prose.

```sh
# a comment line
make demo   # a trailing note
curl -s http://x/api/query \\
  -H 'Content-Type: application/json' \\
  -d '{"question": "# not a comment"}'
```

```console
$ oozo index ./docs --out ./index
{"version": "v1"}
$ oozo query "Why?" \\
    --index ./index
Because.
```

```yaml
kind: RagCorpus
```
"""


def test_script_blocks_join_continuations_and_drop_comments() -> None:
    [script, _, yaml_block] = fenced_blocks("page.md", PAGE)
    assert [(c.line, c.text) for c in commands_in(script)] == [
        (5, "make demo"),
        (
            6,
            "curl -s http://x/api/query -H 'Content-Type: application/json'"
            """ -d '{"question": "# not a comment"}'""",
        ),
    ]
    assert yaml_block.tag == "yaml"


def test_console_blocks_take_prompt_lines_and_keep_their_output() -> None:
    [_, transcript, _] = fenced_blocks("page.md", PAGE)
    commands = commands_in(transcript)
    assert [(c.line, c.text) for c in commands] == [
        (12, "oozo index ./docs --out ./index"),
        (14, 'oozo query "Why?" --index ./index'),
    ]
    assert commands[0].shown_output == ('{"version": "v1"}',)
    assert commands[1].shown_output == ("Because.",)


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ("make demo  # note", "make demo"),
        ("echo 'a # b'", "echo 'a # b'"),
        ("echo x#y", "echo x#y"),
        ('KEY="#1" run', 'KEY="#1" run'),
    ],
)
def test_a_trailing_comment_ends_only_outside_quotes(line: str, kept: str) -> None:
    assert without_trailing_comment(line) == kept


def test_an_untagged_block_is_never_a_command() -> None:
    block = FencedBlock("page.md", 1, "", ("kubectl get nodes",))
    assert fenced_blocks("page.md", "```\nkubectl get nodes\n```\n") == [block]
