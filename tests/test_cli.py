"""The command line as a user meets it: clear one-line errors, exit codes, help with examples."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from audit.cli import cli

REPO = Path(__file__).resolve().parent.parent


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_check_accepts_the_example() -> None:
    code, out, _ = invoke("check", "--config", str(REPO / "companies.yaml"))
    assert code == 0
    assert "ok" in out and "2 companies to probe (1 disabled)" in out


def test_check_warns_about_a_secret_that_is_not_set() -> None:
    code, out, _ = invoke("check", "--config", str(REPO / "companies.yaml"), env={"AUDIT_IMAP_PASSWORD": ""})
    assert code == 0
    assert "AUDIT_IMAP_PASSWORD, which is not set" in out


def test_check_warns_about_every_secret_the_file_names_but_the_environment_lacks(tmp_path: Path) -> None:
    text = (REPO / "companies.yaml").read_text(encoding="utf-8")
    text += "\nreport:\n  smtp: {host: 127.0.0.1, from_address: audit@example.org, password_env: AUDIT_TEST_SMTP_PW}\n"
    text = text.replace(
        "mailbox:\n", "mailbox:\n  webhooks: {generic_secret_env: AUDIT_TEST_RAW_SECRET}\n", 1
    )
    path = tmp_path / "companies.yaml"
    path.write_text(text, encoding="utf-8")
    env = {"AUDIT_TEST_SMTP_PW": "", "AUDIT_TEST_RAW_SECRET": "", "AUDIT_IMAP_PASSWORD": "set-for-this-test"}
    code, out, err = invoke("check", "--config", str(path), env=env)
    assert code == 0, out + err
    assert "report.smtp.password_env names $AUDIT_TEST_SMTP_PW, which is not set" in out
    assert "mailbox.webhooks.generic_secret_env names $AUDIT_TEST_RAW_SECRET, which is not set" in out
    assert "AUDIT_IMAP_PASSWORD" not in out


def test_check_fails_on_a_data_directory_it_cannot_write(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")  # root may write anywhere, but not below a file
    config = str(REPO / "companies.yaml")
    code, out, err = invoke("--data-dir", str(blocker / "data"), "check", "--config", config)
    assert code == 1 and "ok" not in out
    assert "is not writable" in err and "Traceback" not in err
    assert invoke("--data-dir", str(tmp_path / "data"), "check", "--config", config)[0] == 0


def test_a_bad_config_gives_file_line_errors_and_exit_1(tmp_path: Path) -> None:
    bad = (REPO / "companies.yaml").read_text(encoding="utf-8").replace("  timezone:", "  time_zone:", 1)
    path = tmp_path / "companies.yaml"
    path.write_text(bad, encoding="utf-8")
    code, out, err = invoke("check", "--config", str(path))
    assert code == 1
    assert f"error: {path}:7: audit.time_zone: unknown key" in err
    assert "Traceback" not in out + err


def test_run_refuses_a_bad_config_before_doing_anything(tmp_path: Path) -> None:
    path = tmp_path / "companies.yaml"
    path.write_text("audit: {name: x}\n", encoding="utf-8")
    code, _, err = invoke("--data-dir", str(tmp_path / "data"), "run", "--config", str(path))
    assert code == 1
    assert f"{path}:1: mailbox: required key is missing" in err
    assert not (tmp_path / "data").exists()


def test_an_unwritable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    code, _, err = invoke(
        "--data-dir", str(blocker / "data"), "run", "--config", str(REPO / "companies.yaml")
    )
    assert code == 1
    assert err.startswith(f"error: the data directory {blocker / 'data'} is not writable")
    assert err.count("\n") == 1


def test_status_before_any_wave(tmp_path: Path) -> None:
    code, _, err = invoke("--data-dir", str(tmp_path), "status", "--config", str(tmp_path / "none.yaml"))
    assert code == 1
    assert "no wave has been run yet" in err


def test_every_command_has_help_with_an_example() -> None:
    for command in ("check", "run", "status", "demo"):
        code, out, _ = invoke(command, "--help")
        assert code == 0
        assert f"audit {command}" in out or (command == "demo" and "audit --data-dir" in out)


def test_every_command_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    names = cli.list_commands(click.Context(cli))  # the lazy group's table: `cli.commands` holds none
    assert "status" in names
    for command in names:
        assert f"`audit {command}" in readme


def test_every_config_key_is_in_the_readme() -> None:
    from pydantic import BaseModel

    from audit.config import AuditConfig

    readme = (REPO / "README.md").read_text(encoding="utf-8")

    def keys(model: type[BaseModel]) -> set[str]:
        found = set()
        for name, field in model.model_fields.items():
            found.add(name)
            for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
                inner = getattr(arg, "__args__", (arg,))
                for candidate in (arg, *inner):
                    if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                        found |= keys(candidate)
        return found

    missing = sorted(
        key
        for key in keys(AuditConfig)
        if not any(form in readme for form in (f"`{key}`", f".{key}`", f"`{key}.", f"`{key}[", f".{key}."))
    )
    assert missing == []


@pytest.mark.browser
def test_a_missing_browser_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "AUDIT_CHROMIUM_PATH": "/bin/false", "AUDIT_DATA_DIR": str(tmp_path)}
    config = (REPO / "companies.yaml").read_text(encoding="utf-8")
    config = config.replace("https://www.example.com/contact", "http://127.0.0.1:9/contact")
    (tmp_path / "c.yaml").write_text(
        config.replace("allow_private_targets: false", "allow_private_targets: true")
    )
    done = subprocess.run(
        [sys.executable, "-m", "audit", "run", "--config", str(tmp_path / "c.yaml"), "--only", "acme"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error:") and "chromium" in done.stderr.lower()
