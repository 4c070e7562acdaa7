"""Settings declared once: the section specs are generated from the model's fields."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from vio_sbc.config import model
from vio_sbc.config.fields import required_of, setting, spec_of, sub
from vio_sbc.config.nodes import Issues, integer, nullable, number, string
from vio_sbc.config.values import hostname
from vio_sbc.errors import ConfigError

DOCS = Path(__file__).resolve().parents[3] / "docs"


@dataclasses.dataclass(frozen=True, slots=True)
class Inner:
    size: int = dataclasses.field(default=1, metadata=setting(integer(lo=1)))


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    name: str  # not a key: the builder passes it
    host: str = dataclasses.field(metadata=setting(string(nonempty=True)))
    token: str | None = dataclasses.field(default=None, metadata=setting(None, secret=True))
    ratio: float = dataclasses.field(default=0.5, metadata=setting(number(0, 1)))
    inner: Inner = dataclasses.field(default=Inner(), metadata=setting(sub(Inner)))
    later: str | None = dataclasses.field(default=None, metadata=setting(None))


def test_spec_is_generated_from_the_fields() -> None:
    spec = spec_of(Sample)
    assert list(spec) == ["host", "token", "token_file", "ratio", "inner", "later"]
    assert spec["later"] is None  # converted by the section's builder
    assert required_of(Sample) == ("host",)


def test_a_section_reads_into_the_dataclass() -> None:
    import yaml

    from vio_sbc.config.fields import read
    from vio_sbc.config.nodes import Doc, Item

    node = yaml.compose("host: h\nratio: 2\ninner: {size: 3}\ncolour: red\n")
    issues = Issues()
    obj, sec = read(Sample, Item.root(node, Doc("t.yaml")), issues, fixed={"name": "n"})
    assert obj == Sample(name="n", host="h", inner=Inner(3))  # bad ratio: its default
    assert [str(i) for i in issues.items] == [
        "t.yaml:2: ratio: must be between 0 and 1, got 2",
        "t.yaml:4: colour: unknown key 'colour' (expected one of: host, inner, later, ratio, "
        "token, token_file)",
    ]
    assert sec is not None and set(sec.items) == {"host", "ratio", "inner"}


def test_a_field_shadowing_its_converter_fails_at_import() -> None:
    with pytest.raises(TypeError, match="not a converter"):
        @dataclasses.dataclass
        class Shadow:
            hostname: str = dataclasses.field(metadata=setting(hostname))
            alias: str | None = dataclasses.field(default=None,
                                                  metadata=setting(nullable(hostname)))


def _setting_classes() -> list[type]:
    return [obj for name in model.__all__
            if dataclasses.is_dataclass(obj := getattr(model, name)) and spec_of(obj)]


@pytest.mark.parametrize("cls", _setting_classes(), ids=lambda c: c.__name__)
def test_every_setting_is_documented(cls: type) -> None:
    """A key added to the model and not to docs/ fails here (the reference tables name
    keys as `key`, `section.key` or `key.sub`)."""
    text = "".join((DOCS / f).read_text("utf-8")
                   for f in ("config.md", "agents.md", "trunks.md", "calllog.md"))
    missing = [key for key in spec_of(cls) if not re.search(
        r"`(?:[a-z_]+\.)*" + re.escape(key) + r"(?:\.[a-z_]+)*:?`", text)]
    assert missing == []


def test_defaults_of_an_empty_file_are_the_model_defaults() -> None:
    from vio_sbc.config import parse_config_text

    cfg = parse_config_text("")
    assert cfg.sip == model.SipSettings() and cfg.rtp == model.RtpSettings()
    assert (cfg.rtp.port_min, cfg.rtp.port_max) == (20000, 20999)
    with pytest.raises(ConfigError):
        parse_config_text("http: {}\n")  # http.listen is required: no default


def test_every_outbound_and_register_key_reads() -> None:
    from vio_sbc.config import parse_config_text

    cfg = parse_config_text(
        "trunks:\n"
        "  carrier:\n"
        "    kind: byoc\n"
        "    outbound: {host: sip.example.com, port: 5080, transport: tcp, username: u,\n"
        "               password: '${PW}', realm: r, from_domain: example.com,\n"
        "               caller_id: '+14155550100', max_calls: 3, cps: 2,\n"
        "               options_interval_s: 0, options_timeout_s: 1, options_down_after: 4}\n"
        "    register: {enabled: true, expires: 60, registrar: 'sip:reg.example.com',\n"
        "               contact_user: c, aor: 'sip:u@example.com', retry_min_s: 1,\n"
        "               retry_max_s: 10, forbidden_retry_s: 20}\n", env={"PW": "pw"})
    out = cfg.trunks["carrier"].outbound
    assert out == model.TrunkOutbound(
        host="sip.example.com", port=5080, transport="tcp", username="u", password="pw",
        realm="r", from_domain="example.com", caller_id="+14155550100", max_calls=3, cps=2,
        options_interval_s=0, options_timeout_s=1, options_down_after=4)
    assert out.uri == "sip:sip.example.com:5080;transport=tcp"
    assert cfg.trunks["carrier"].register == model.TrunkRegister(
        enabled=True, expires=60, registrar="sip:reg.example.com", contact_user="c",
        aor="sip:u@example.com", retry_min_s=1, retry_max_s=10, forbidden_retry_s=20)
