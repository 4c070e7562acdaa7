"""Includes (trunks and numbers from other files) and ${ENV} references."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.config.common import errors, parse, write
from vio_sbc.config import load_config, parse_config_text
from vio_sbc.errors import ConfigError

# --- includes --------------------------------------------------------------------------

MAIN = """\
    trunks:
      pbx: {kind: byoc}
    numbers:
      "+14155550100": {trunk: pbx}
    include: [trunks/*.yaml, nothing/*.yaml]
    """


def test_include_adds_trunks_and_numbers(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    write(tmp_path / "trunks" / "carrier.yaml", """\
        trunks:
          carrier: {kind: twilio, inbound: {allow: [twilio]}}
        numbers:
          "+14155550199": {trunk: carrier, direction: inbound}
          "+14155550198": {trunk: pbx}
        """)
    config = load_config(main, env={})
    assert list(config.trunks) == ["pbx", "carrier"]
    assert config.trunks["carrier"].file == str(tmp_path / "trunks" / "carrier.yaml")
    assert config.trunks["carrier"].line == 2
    assert set(config.numbers) == {"+14155550100", "+14155550199", "+14155550198"}
    assert config.numbers["+14155550198"].trunk == "pbx"


def test_duplicates_across_included_files(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    write(tmp_path / "trunks" / "a.yaml", """\
        numbers:
          "+14155550101": {trunk: pbx}
        """)
    write(tmp_path / "trunks" / "b.yaml", """\
        trunks:
          pbx: {kind: byoc}
        numbers:
          "+14155550100": {trunk: pbx}
          "+14155550101": {trunk: pbx}
        """)
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    a, b = tmp_path / "trunks" / "a.yaml", tmp_path / "trunks" / "b.yaml"
    assert [str(i) for i in info.value.issues] == [
        f"{b}:2: trunks.pbx: duplicate trunk 'pbx', first defined at {main}:2",
        f"{b}:4: numbers.+14155550100: duplicate number +14155550100, first defined at {main}:4",
        f"{b}:5: numbers.+14155550101: duplicate number +14155550101, first defined at {a}:2",
    ]


def test_included_file_may_hold_only_trunks_and_numbers(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    bad = write(tmp_path / "trunks" / "bad.yaml", "sip: {max_calls: 3}\nagents: {}\n")
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{bad}:1: sip: 'sip' is not allowed in an included file (only: trunks, numbers)",
        f"{bad}:2: agents: 'agents' is not allowed in an included file (only: trunks, numbers)",
    ]


def test_included_file_that_does_not_parse(tmp_path: Path) -> None:
    main = write(tmp_path / "vio.yaml", MAIN)
    bad = write(tmp_path / "trunks" / "bad.yaml", "trunks:\n  x: {kind: byoc\n")
    with pytest.raises(ConfigError) as info:
        load_config(main, env={})
    assert [str(i) for i in info.value.issues] == [
        f"{bad}:3: invalid YAML at column 1: while parsing a flow mapping, expected ',' or "
        "'}', but got '<stream end>' (it started at line 2, column 6)"]


def test_include_relative_to_main_file_with_relative_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "conf" / "vio.yaml", MAIN)
    write(tmp_path / "conf" / "trunks" / "x.yaml", "numbers:\n  '+14155550100': {trunk: pbx}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config("conf/vio.yaml", env={})
    assert [str(i) for i in info.value.issues] == [
        "conf/trunks/x.yaml:2: numbers.+14155550100: duplicate number +14155550100, first "
        "defined at conf/vio.yaml:4"]


def test_include_with_base_dir_in_parse_config_text(tmp_path: Path) -> None:
    write(tmp_path / "t.yaml", "trunks:\n  pbx: {kind: byoc}\n")
    config = parse_config_text("include: t.yaml\n", env={}, base_dir=tmp_path)
    assert list(config.trunks) == ["pbx"]


# --- ${ENV} ----------------------------------------------------------------------------


def test_env_references_are_resolved_and_kept_as_secrets() -> None:
    config = parse("""\
        sip:
          user_agent: "vio/${VERSION:-dev} $${LITERAL}"
          max_calls: ${MAX_CALLS}
          public_address: ${PUBLIC:-}
        trunks:
          pbx:
            kind: byoc
            outbound: {host: pbx.example.com, username: me, password: "${SIP_PASSWORD}"}
        agents:
          receptionist: {kind: scripted, api_key: "${API_KEY}"}
        """, env={"MAX_CALLS": "50", "SIP_PASSWORD": "s3cret", "API_KEY": "0123"})
    assert config.sip.user_agent == "vio/dev ${LITERAL}"
    assert config.sip.max_calls == 50  # unquoted: typed like YAML types the expanded text
    assert config.sip.public_address is None
    assert config.agents["receptionist"].options == {"api_key": "0123"}  # quoted: a string
    assert config.secrets == ("dev", "50", "s3cret", "0123")


def test_env_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIO_TEST_UA", "from-environ")
    config = parse_config_text("sip: {user_agent: '${VIO_TEST_UA}'}\n")
    assert config.sip.user_agent == "from-environ"
    assert config.secrets == ("from-environ",)


def test_env_errors_name_the_variable_and_never_print_its_value() -> None:
    assert errors("""\
        sip:
          user_agent: "${UNSET_VAR}"
          max_calls: ${MAX}
          public_address: "${BROKEN"
        trunks:
          pbx: {kind: byoc, outbound: {host: h, username: u, password: "${bad-name}"}}
        """, env={"MAX": "hunter2"}) == [
        "vio.yaml:2: sip.user_agent: environment variable 'UNSET_VAR' is not set",
        "vio.yaml:3: sip.max_calls: expected an integer, got string '${MAX}'",
        "vio.yaml:4: sip.public_address: unterminated '${' (write $${ for a literal ${)",
        "vio.yaml:6: trunks.pbx.outbound.password: invalid reference '${bad-name}' (expected "
        "${NAME} or ${NAME:-default})",
    ]


def test_unset_ok_leaves_unset_variables_out_with_a_warning() -> None:
    """Read-only commands (`calls`, `campaign list`) load a config whose secrets are
    only in the server's environment."""
    text = ('storage: {dir: var}\n'
            'trunks:\n  pbx: {kind: byoc, outbound: {host: h, username: u, '
            'password: "${PBX_PW}"}}\n')
    config = parse_config_text(text, "vio.yaml", env={}, unset_ok=True)
    assert config.storage.dir == "var"
    assert config.trunks["pbx"].outbound is not None
    assert config.trunks["pbx"].outbound.password is None
    assert [str(w) for w in config.warnings] == [
        "vio.yaml:3: trunks.pbx.outbound.password: environment variable 'PBX_PW' is not set "
        "(setting left out)"]
    with pytest.raises(ConfigError):
        parse_config_text(text, "vio.yaml", env={})
