"""Secrets in the config: ${ENV} references or owner-only files, never a literal,
never quoted in an error or a warning."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.common import errors, parse, write
from vio_sbc.config import load_config
from vio_sbc.errors import ConfigError

# --- secrets: ${ENV} references or owner-only files -----------------------------------


def _secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: hunter2}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: 'pre${PW}'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: 4711}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: a secret must not be written in the config: "
     "write \"${NAME}\" (set NAME in the environment) or use password_file: PATH (a file only its "
     "owner can read, chmod 600)"),
    ("trunks:\n  pbx:\n    kind: byoc\n    outbound:\n      host: h\n      username: u\n"
     "      password: ${NUM}\n",
     "vio.yaml:7: trunks.pbx.outbound.password: expected a string, got integer '${NUM}'"),
    ("summary: {provider: openai, url: u, model: m, api_key: sk-hunter2}\n",
     "vio.yaml:1: summary.api_key: a secret must not be written in the config: write \"${NAME}\" "
     "(set NAME in the environment) or use api_key_file: PATH (a file only its owner can read, "
     "chmod 600)"),
    ("trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, password: '${EMPTY}'}}\n",
     "vio.yaml:2: trunks.pbx.outbound.password: must not be empty (${EMPTY} is empty)"),
])
def test_literal_secrets_are_refused_without_quoting_them(text: str, expected: str) -> None:
    assert errors(text, env={"PW": "x", "EMPTY": "", "NUM": "4711"}) == [expected]
    assert "hunter2" not in expected and "4711" not in expected


def test_env_default_for_a_secret_is_warned_about_only_when_used() -> None:
    text = "summary: {provider: openai, url: u, model: m, api_key: '${KEY:-sk-dev}'}\n"
    config = parse(text)
    assert config.summary.api_key == "sk-dev"
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:1: summary.api_key: ${KEY} is not set: using the default written in the "
        "config"]
    assert parse(text, env={"KEY": "sk-prod"}).warnings == ()


def test_warnings_never_quote_a_secret() -> None:
    config = parse("""\
        trunks:
          tw: {kind: twilio, inbound: {allow: twilio}, outbound: {host: "${TW_HOST}"}}
        """, env={"TW_HOST": "127.0.0.1"})
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:2: trunks.tw.outbound.host: '***' is not a Twilio termination host "
        "(<name>.pstn.twilio.com); fine for a test peer"]


def test_secret_files_are_read_relative_to_the_config_and_kept_as_secrets(
        tmp_path: Path) -> None:
    _secret_file(tmp_path / "pbx.pw", "pbx-pass\n")
    _secret_file(tmp_path / "openai.key", "sk-from-file", 0o400)
    cfg = write(tmp_path / "vio.yaml", """\
        trunks:
          pbx:
            kind: byoc
            outbound: {host: h, username: u, password_file: pbx.pw}
        summary: {provider: openai, url: u, model: m, api_key_file: openai.key}
        """)
    config = load_config(cfg, env={})
    out = config.trunks["pbx"].outbound
    assert out is not None and out.password == "pbx-pass"  # trailing newline dropped
    assert config.summary.api_key == "sk-from-file"
    assert set(config.secrets) == {"pbx-pass", "sk-from-file"}
    assert "pbx-pass" not in repr(out)
    # a reload loads the config again: the file is read again
    _secret_file(tmp_path / "pbx.pw", "rotated\n")
    again = load_config(cfg, env={}).trunks["pbx"].outbound
    assert again is not None and again.password == "rotated"


def test_secret_file_errors_are_all_reported_at_once(tmp_path: Path) -> None:
    import os

    _secret_file(tmp_path / "open.pw", "x1", 0o644)
    _secret_file(tmp_path / "group.pw", "x2", 0o640)
    _secret_file(tmp_path / "empty.pw", "\n")
    other = _secret_file(tmp_path / "other.pw", "x3")
    os.chown(other, 65534, 65534)  # nobody (the tests run as root)
    _secret_file(tmp_path / "both.pw", "x4")
    (tmp_path / "dir.pw").mkdir()
    cfg = write(tmp_path / "vio.yaml", """\
        trunks:
          a: {kind: byoc, outbound: {host: h, username: u, password_file: missing.pw}}
          b: {kind: byoc, outbound: {host: h, username: u, password_file: open.pw}}
          c: {kind: byoc, outbound: {host: h, username: u, password_file: group.pw}}
          d: {kind: byoc, outbound: {host: h, username: u, password_file: empty.pw}}
          e: {kind: byoc, outbound: {host: h, username: u, password_file: other.pw}}
          f: {kind: byoc, outbound: {host: h, username: u, password: "${PW}",
                                     password_file: both.pw}}
          g: {kind: byoc, outbound: {host: h, username: u, password_file: dir.pw}}
          h: {kind: byoc, outbound: {host: h, username: u, password_file: ""}}
        summary: {provider: openai, url: u, model: m, api_key_file: open.pw}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={"PW": "x5"})
    d = tmp_path
    assert [str(i) for i in info.value.issues] == [
        f"{cfg}:2: trunks.a.outbound.password_file: cannot read secret file {d}/missing.pw: "
        "No such file or directory",
        f"{cfg}:3: trunks.b.outbound.password_file: secret file {d}/open.pw has mode 0644: "
        f"group/others may access it (chmod 600 {d}/open.pw)",
        f"{cfg}:4: trunks.c.outbound.password_file: secret file {d}/group.pw has mode 0640: "
        f"group/others may access it (chmod 600 {d}/group.pw)",
        f"{cfg}:5: trunks.d.outbound.password_file: secret file {d}/empty.pw is empty",
        f"{cfg}:6: trunks.e.outbound.password_file: secret file {d}/other.pw is not owned by "
        "the user running vio-sbc",
        f"{cfg}:8: trunks.f.outbound.password_file: give password or password_file, not both",
        f"{cfg}:9: trunks.g.outbound.password_file: secret file {d}/dir.pw is not a regular "
        "file",
        f"{cfg}:10: trunks.h.outbound.password_file: must not be empty",
        f"{cfg}:11: summary.api_key_file: secret file {d}/open.pw has mode 0644: group/others "
        f"may access it (chmod 600 {d}/open.pw)",
    ]


def test_a_secret_read_from_a_file_is_never_quoted_in_an_error(tmp_path: Path) -> None:
    _secret_file(tmp_path / "k", "sk-9f8e7d")
    _secret_file(tmp_path / "h", "sk-9f8e7d")
    cfg = write(tmp_path / "vio.yaml", """\
        summary: {provider: openai, url: u, model: m, api_key_file: k}
        trunks:
          pbx: {kind: byoc, outbound: {host: h, username: u, password_file: h}}
        sip: {listen: "sk-9f8e7d"}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    text = "\n".join(str(i) for i in info.value.issues)
    assert "sip.listen" in text and "sk-9f8e7d" not in text and "***" in text
