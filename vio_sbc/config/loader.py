"""Load the YAML configuration into a typed `Config`, reporting every problem at once.

`load_config(path)` reads the main file, expands `include:` globs (relative to
the main file's directory; included files may hold only `trunks:` and
`numbers:`), substitutes `${VAR}` / `${VAR:-default}` in string values, and
validates the lot. Problems are collected as `ConfigIssue`s (FILE:LINE:
key.path: message) and raised together in one `ConfigError`.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from vio_sbc.config import yamlerrors
from vio_sbc.config.agents import BUILTIN_AGENT_NAME, build_agents, builtin_agent
from vio_sbc.config.fields import spec_of
from vio_sbc.config.model import AgentConfig, Config, NumberConfig, SipSettings, TrunkConfig
from vio_sbc.config.nodes import (
    STR,
    Doc,
    Invalid,
    Issues,
    Item,
    convert,
    describe,
    entries,
    join,
    line_of,
    list_items,
    string,
)
from vio_sbc.config.numbers import NumberEntry, build_numbers, number_key_message
from vio_sbc.config.trunks import build_trunks
from vio_sbc.errors import ConfigError, ConfigIssue
from vio_sbc.log import Redactor

TOP_SPEC = {**spec_of(Config), "include": None}  # agents, trunks, numbers, include: below
INCLUDED_KEYS = ("trunks", "numbers")

# $${ is a literal ${; ${NAME} or ${NAME:-default}; a lone ${ is unterminated
_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_RESOLVER = yaml.resolver.Resolver()
_VAR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def load_config(path: str | Path, env: Mapping[str, str] | None = None, *,
                unset_ok: bool = False, texts: Mapping[str, str] | None = None) -> Config:
    """Load and validate the main config file and its includes.

    `env` resolves ${VAR} references (default: os.environ). Raises `ConfigError`
    listing every problem found. `unset_ok` (read-only commands: `calls`, `campaign
    list`...): a ${VAR} that is not set is a warning and its setting is left out,
    instead of an error (such a config must not place calls). `texts` maps file paths
    to text read instead of the file (the console checks an edit before writing it).
    """
    file = str(path)
    loader = _Loader(env, unset_ok=unset_ok, texts=texts)
    text = loader.read(file)
    if isinstance(text, ConfigIssue):
        raise ConfigError([text])
    return loader.run(text, file, os.path.dirname(file))


def parse_config_text(text: str, filename: str = "<string>",
                      env: Mapping[str, str] | None = None,
                      base_dir: str | Path | None = None, *, unset_ok: bool = False) -> Config:
    """Validate config text. `include:` is only allowed when `base_dir` is given."""
    base = None if base_dir is None else str(base_dir)
    return _Loader(env, unset_ok=unset_ok).run(text, filename, base)


def _read(file: str) -> str | ConfigIssue:
    try:
        return Path(file).read_bytes().decode("utf-8")
    except OSError as exc:
        return ConfigIssue(file, 0, "", f"cannot read file: {exc.strerror or exc}")
    except UnicodeDecodeError as exc:
        return ConfigIssue(file, 0, "", f"not UTF-8 text: {exc.reason} at byte {exc.start}")


UNSET = "environment variable {name!r} is not set"


def expand(text: str, env: Mapping[str, str],
           unset: list[str] | None = None) -> tuple[str, list[str], list[str]]:
    """Substitute ${...} references: (result, substituted values, error messages).
    With `unset`, the names of variables that are not set go there instead of errors."""
    values: list[str] = []
    errors: list[str] = []

    def replace(match: re.Match[str]) -> str:
        whole, inner = match.group(0), match.group(1)
        if whole == "$${":
            return "${"
        if inner is None:
            errors.append("unterminated '${' (write $${ for a literal ${)")
            return whole
        var = _VAR.fullmatch(inner)
        if var is None:
            errors.append(f"invalid reference {whole!r} (expected ${{NAME}} or ${{NAME:-default}})")
            return whole
        name, default = var.group(1), var.group(2)
        value = env.get(name)
        if default is not None and not value:
            value = default
        if value is None:
            (unset if unset is not None else errors).append(
                name if unset is not None else UNSET.format(name=name))
            return whole
        values.append(value)
        return value

    return _REF.sub(replace, text), values, errors


class _Loader:
    def __init__(self, env: Mapping[str, str] | None, unset_ok: bool = False,
                 texts: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.unset_ok = unset_ok
        self.texts = {os.path.realpath(k): v for k, v in (texts or {}).items()}
        self.issues = Issues()
        self.secrets: list[str] = []
        self.files: list[str] = []  # in the order read, for sorting issues
        self.agent_names: set[str] = set()
        self.agents: dict[str, AgentConfig] = {}
        self.trunk_names: dict[str, Item] = {}
        self.trunks: dict[str, TrunkConfig] = {}
        self.number_first: dict[str, Item] = {}
        self.numbers: dict[str, NumberConfig] = {}
        self.number_entries: list[NumberEntry] = []

    def run(self, text: str, file: str, base_dir: str | None) -> Config:
        root = self._parse(text, file)
        top = convert((entries(root, self.issues) or []) if root is not None else [], TOP_SPEC,
                      self.issues)
        items = top.items
        defaults = Config()
        sections = {k: top.values.get(k, getattr(defaults, k)) for k, conv in TOP_SPEC.items()
                    if conv is not None}
        agents_item = items.get("agents")
        if agents_item is None or agents_item.is_null:
            self.agent_names.add(BUILTIN_AGENT_NAME)
            self.agents[BUILTIN_AGENT_NAME] = builtin_agent()
        else:
            for name, _, agent in build_agents(agents_item, self.issues):
                self.agent_names.add(name)
                if agent is not None:
                    self.agents[name] = agent
        self._add_routes(items)
        if "include" in items:
            self._include(items["include"], file, base_dir)
        self._check_references()
        self._check_tls(sections["sip"], items.get("sip"), file)
        default_agent = sections["workspace"].default_agent
        default_item = _child(items.get("workspace"), "default_agent")
        if default_agent not in self.agent_names:
            message = self._unknown("agent", default_agent, self.agent_names)
            if default_item is not None:
                self.issues.at(default_item, message)
            else:
                where = agents_item.key_line if agents_item is not None else 0
                self.issues.add(file, where, "workspace.default_agent", message)
        self.secrets.extend(self.issues.secrets)  # values read from *_file secrets
        if self.issues.items:
            rank = {f: i for i, f in enumerate(self.files)}
            ordered = sorted(self.issues.items, key=lambda i: (rank.get(i.file, -1), i.line))
            raise ConfigError(self._redacted(ordered))
        return Config(**sections, agents=self.agents, trunks=self.trunks, numbers=self.numbers,
                      source=file, secrets=tuple(dict.fromkeys(s for s in self.secrets if s)),
                      warnings=tuple(self._redacted(self.issues.warnings)))

    def _redacted(self, issues: list[ConfigIssue]) -> list[ConfigIssue]:
        """Messages quote values: never a secret's (${ENV} or file; check output, logs)."""
        scrub = Redactor(self.secrets).scrub
        return [ConfigIssue(i.file, i.line, i.path, scrub(i.message)) for i in issues]

    # --- reading ---------------------------------------------------------------------

    def _parse(self, text: str, file: str) -> Item | None:
        """The checked, env-substituted root item of one file (None if empty or broken)."""
        self.files.append(file)
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            line, message = yamlerrors.describe(text, exc)
            self.issues.add(file, line, "", message)
            return None
        except yaml.reader.ReaderError as exc:
            line = text.count("\n", 0, exc.position) + 1
            self.issues.add(file, line, "", f"invalid YAML: {str(exc).splitlines()[0]}")
            return None
        except yaml.YAMLError as exc:
            self.issues.add(file, 0, "", f"invalid YAML: {exc}")
            return None
        if node is None:
            return None
        doc = Doc(file)
        self._prepare(node, "", doc, set())
        return Item.root(node, doc)

    def _prepare(self, node: Node, path: str, doc: Doc, seen: set[int]) -> None:
        """Report duplicate and merge keys and substitute ${...} in string values, once
        per node (aliases share nodes)."""
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if node.tag == STR and "${" in node.value:
                unset: list[str] | None = [] if self.unset_ok else None
                result, values, errors = expand(node.value, self.env, unset)
                for message in errors:
                    self.issues.add(doc.file, line_of(node), path, message)
                for name in unset or []:
                    self.issues.warnings.append(ConfigIssue(
                        doc.file, line_of(node), path,
                        UNSET.format(name=name) + " (setting left out)"))
                if errors or unset:
                    doc.broken.add(id(node))
                doc.templates[id(node)] = node.value
                node.value = result
                if node.style is None:  # unquoted: typed like YAML types the expanded text
                    node.tag = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
                        ScalarNode, result, (True, False))
                self.secrets.extend(values)
        elif isinstance(node, SequenceNode):
            for i, child in enumerate(node.value):
                self._prepare(child, f"{path}[{i}]", doc, seen)
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    continue  # reported when the mapping is read
                key_path = join(path, key.value)
                if key.tag == "tag:yaml.org,2002:merge":
                    self.issues.add(doc.file, line_of(key), key_path,
                                    "merge keys (<<) are not supported")
                    continue
                ident = (key.tag, key.value)
                if ident in first:
                    self.issues.add(doc.file, line_of(key), key_path,
                                    f"duplicate key {key.value!r} (first at line {first[ident]})")
                    continue
                first[ident] = line_of(key)
                self._prepare(value, key_path, doc, seen)

    def _include(self, item: Item, main_file: str, base_dir: str | None) -> None:
        patterns = _include_patterns(item, self.issues)
        if patterns and base_dir is None:
            self.issues.at(item, "include needs a base directory (use load_config)")
            return
        done: set[str] = {os.path.realpath(main_file)}
        for pattern, _ in patterns:
            full = os.path.join(glob.escape(base_dir or ""), pattern)
            for file in sorted(glob.glob(full, recursive=True)):
                real = os.path.realpath(file)
                if real in done or not os.path.isfile(file):
                    continue
                done.add(real)
                self._load_included(file)

    def read(self, file: str) -> str | ConfigIssue:
        text = self.texts.get(os.path.realpath(file))
        return _read(file) if text is None else text

    def _load_included(self, file: str) -> None:
        text = self.read(file)
        if isinstance(text, ConfigIssue):
            self.files.append(file)
            self.issues.items.append(text)
            return
        root = self._parse(text, file)
        items: dict[str, Item] = {}
        for key, child in (entries(root, self.issues) if root is not None else None) or []:
            if key in INCLUDED_KEYS:
                items[key] = child
            else:
                self.issues.add(file, child.key_line, child.path,
                                f"{key!r} is not allowed in an included file "
                                f"(only: {', '.join(INCLUDED_KEYS)})")
        self._add_routes(items)

    # --- trunks, numbers and references ------------------------------------------------

    def _add_routes(self, items: Mapping[str, Item]) -> None:
        if "trunks" in items:
            for name, item, trunk in build_trunks(items["trunks"], self.issues):
                first = self.trunk_names.get(name)
                if first is not None:
                    self.issues.add(item.file, item.key_line, item.path,
                                    f"duplicate trunk {name!r}, first defined at "
                                    f"{first.file}:{first.key_line}")
                    continue
                self.trunk_names[name] = item
                if trunk is not None:
                    self.trunks[name] = trunk
        if "numbers" in items:
            for entry in build_numbers(items["numbers"], self.issues):
                first = self.number_first.get(entry.number)
                if first is not None:
                    self.issues.add(entry.item.file, entry.item.key_line, entry.item.path,
                                    f"duplicate number {entry.number}, first defined at "
                                    f"{first.file}:{first.key_line}")
                    continue
                self.number_first[entry.number] = entry.item
                self.number_entries.append(entry)
                if entry.config is not None:
                    self.numbers[entry.number] = entry.config

    def _check_references(self) -> None:
        for entry in self.number_entries:
            if entry.bad_key is not None:
                ref = entry.refs.get("trunk")
                trunk = self.trunks.get(ref.node.value) if ref is not None else None
                self.issues.add(entry.item.file, entry.item.key_line, entry.item.path,
                                number_key_message(entry.number, entry.bad_key,
                                                   trunk.number_format if trunk else None,
                                                   trunk.name if trunk else None))
            for kind, defined in (("trunk", self.trunk_names), ("agent", self.agent_names)):
                ref = entry.refs.get(kind)
                if ref is not None and ref.node.value not in defined:
                    self.issues.at(ref, self._unknown(kind, ref.node.value, defined))

    def _check_tls(self, sip: SipSettings, sip_item: Item | None, file: str) -> None:
        """The tls transport has a certificate and its own port; a TLS trunk needs it."""
        where = _child(sip_item, "transports") or sip_item
        line, path = (where.line, where.path) if where is not None else (0, "sip")
        has_tls = "tls" in sip.transports
        if has_tls and sip.tls.cert_file is None and _child(sip_item, "tls") is None:
            self.issues.add(file, line, path, "the tls transport needs sip.tls.cert_file and "
                            "sip.tls.key_file (the server certificate and its key)")
        if has_tls and sip.tls.port == sip.listen.port and "tcp" in sip.transports:
            self.issues.add(file, line, path, f"tls and tcp cannot share port "
                            f"{sip.listen.port}: set sip.tls.port (default 5061)")
        for trunk in self.trunks.values():
            out = trunk.outbound
            if out is not None and out.transport == "tls" and not has_tls:
                self.issues.add(trunk.file, trunk.line, f"trunks.{trunk.name}.outbound.transport",
                                "transport tls needs tls in sip.transports (and sip.tls: the "
                                "certificate, the CA bundle that checks the trunk's)")

    @staticmethod
    def _unknown(kind: str, name: str, defined: set[str] | Mapping[str, object]) -> str:
        names = ", ".join(sorted(defined)) or "none"
        return f"unknown {kind} {name!r} (defined: {names})"


def _child(item: Item | None, key: str) -> Item | None:
    """The value item of `key` in the mapping `item` (None if absent or not a mapping)."""
    if item is None:
        return None
    return dict(entries(item, Issues()) or []).get(key)  # problems were reported already


def _include_patterns(item: Item, issues: Issues) -> list[tuple[str, Item]]:
    """The glob patterns of `include:` (a string or a list of strings) with their items."""
    if item.is_null:
        return []
    if item.tag == STR:
        elements = [item]
    elif isinstance(item.node, SequenceNode):
        elements = list_items(item)
    else:
        issues.at(item, f"expected a glob pattern or a list of them, got {describe(item)}")
        return []
    out: list[tuple[str, Item]] = []
    for element in elements:
        try:
            out.append((string(nonempty=True)(element, issues), element))
        except Invalid as exc:
            issues.at(element, exc.message)
    return out
