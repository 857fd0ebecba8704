"""Security basics: no secrets in the repository; config paths stay inside their folders."""

from __future__ import annotations

import json
import re
import subprocess

from pricecast.flows.forecast import forecast

from .conftest import ROOT, sample_csv_frame, tiny_config

SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(
        r"(?i)aws_secret_access_key\s*[:=]\s*['\"]?(?!\$)[A-Za-z0-9/+=]{40}"
    ),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "credentials in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@${}]+:[^\s/@${}]+@"),
}
PASSWORD_LITERAL = re.compile(
    r"(?i)(?<![{\w])\w*(?:password|passwd|secret|api_?key|token)\w*\s*[:=]\s*['\"]?"
    r"(?!\$)(?!change-me)(?!None\b)(?!os\.)[^\s'\"#,)]{4,}"
)


def _repo_files() -> list[str]:
    """Tracked files, and new files git would add (not ignored)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(set(out.split()))


def test_no_secrets_in_the_repository():
    files = _repo_files()
    assert ".env" not in files
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for what, pattern in SECRET_PATTERNS.items():
            found += [f"{name}: {what}: {m.group(0)[:12]}…" for m in pattern.finditer(text)]
        if name != ".env.example" and not name.startswith("tests/"):
            found += [f"{name}: literal: {m.group(0)}" for m in PASSWORD_LITERAL.finditer(text)]
    assert not found, "\n".join(found)

    # The example settings hold placeholders only.
    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        key, _, value = line.partition("=")
        if re.search(r"PASSWORD|SECRET|AUTH|ROOT_USER", key) and not key.startswith("#"):
            assert "change-me" in value, line


def test_config_paths_outside_home_and_cwd_are_refused(
    prefect_api, home, tmp_path, tmp_path_factory
):
    outside = tmp_path_factory.mktemp("outside")
    sample_csv_frame("KO").to_csv(outside / "KO.csv", index=False)
    home.mkdir(parents=True)
    (home / "link").symlink_to(outside, target_is_directory=True)

    cases = {
        "absolute": str(outside / "{ticker}.csv"),
        "relative": f"../../{outside.name}/{{ticker}}.csv",
        "symlink": "link/{ticker}.csv",  # inside home by name, outside once resolved
    }
    for case, pattern in cases.items():
        config = tiny_config(("KO",), source="csv", csv_path=pattern, experiment="rel-paths")
        out = tmp_path / f"out-{case}"
        state = forecast(config=config, output_dir=str(out), return_state=True)
        assert state.is_failed(), case
        why = json.loads((out / "summary.json").read_text())["failed"]["KO"]
        assert why.startswith("ValueError: path "), why
        assert f"resolves to {outside / 'KO.csv'}, outside the allowed folders" in why
        assert str(home) in why and str(tmp_path) in why  # the folders that are allowed
