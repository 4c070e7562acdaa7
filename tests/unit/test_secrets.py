"""Secret files must be private; ${ENV} secrets never show in config errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from vio_sbc.config import parse_config_text
from vio_sbc.errors import ConfigError
from vio_sbc.secrets import SecretFileError, read_secret_file


def test_private_file_is_read_without_trailing_newline(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret value\n")
    f.chmod(0o600)
    assert read_secret_file(f) == "s3cret value"
    f.chmod(0o400)
    assert read_secret_file(f) == "s3cret value"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o606])
def test_group_or_world_access_is_refused(tmp_path: Path, mode: int) -> None:
    f = tmp_path / "pw"
    f.write_text("x\n")
    f.chmod(mode)
    with pytest.raises(SecretFileError) as info:
        read_secret_file(f)
    assert str(info.value) == (f"secret file {f} has mode {mode:04o}: group/others may access "
                               f"it (chmod 600 {f})")


def test_missing_empty_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match=r"cannot read secret file .*: No such file"):
        read_secret_file(tmp_path / "nope")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "empty").chmod(0o600)
    with pytest.raises(SecretFileError, match="is empty"):
        read_secret_file(tmp_path / "empty")
    with pytest.raises(SecretFileError, match="is not a regular file"):
        read_secret_file(tmp_path)


def test_config_errors_never_quote_an_env_secret() -> None:
    text = ('trunks:\n  t:\n    kind: byoc\n    inbound: {allow: ["${PW}"]}\n'
            "    outbound: {host: 127.0.0.5, username: u, password: \"${PW}\"}\n")
    with pytest.raises(ConfigError) as info:
        parse_config_text(text, "v.yaml", env={"PW": "hunter2-secret"})
    assert [str(i) for i in info.value.issues] == [
        "v.yaml:4: trunks.t.inbound.allow[0]: invalid network '***': not an IPv4 or IPv6 "
        "address"]
    assert parse_config_text("sip: {user_agent: \"${PW}\"}\n", "v.yaml",
                             env={"PW": "hunter2-secret"}).secrets == ("hunter2-secret",)
