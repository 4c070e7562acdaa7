"""Secrets in the config: only from ${ENV} references or files only their owner can read.

A secret key (a trunk's `outbound.password`, `summary.api_key`) must be written as
one `${NAME}` reference; a literal is refused at load, without quoting it. A
`${NAME:-default}` reference is accepted (a placeholder for development) and warned
about when the default is used. Its `*_file` twin (`password_file`, `api_key_file`)
names a file read by `vio_sbc.secrets.read_secret_file` (regular, owned by the
running user, no group/other permissions, not empty), relative to the directory of
the config file that names it; its value joins `Config.secrets` for redaction.
A reload re-reads the file. Give one of the two, not both.
"""

from __future__ import annotations

import os
import re

from vio_sbc.config.nodes import Conv, Invalid, Issues, Item, Section, str_value
from vio_sbc.secrets import SecretFileError, read_secret_file

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?\}", re.DOTALL)


def _key(item: Item) -> str:
    return item.path.rsplit(".", 1)[-1]


def env_secret(item: Item, issues: Issues) -> str:
    """A secret written as one ${NAME} (or ${NAME:-default}) reference. A literal of
    any type is refused before its type is checked, so no message quotes it."""
    template = item.doc.templates.get(id(item.node))
    ref = _ENV_REF.fullmatch(template) if template is not None else None
    if ref is None:
        key = _key(item)
        raise Invalid(f"a secret must not be written in the config: write \"${{NAME}}\" (set NAME "
                      f"in the environment) or use {key}_file: PATH (a file only its owner "
                      "can read, chmod 600)")
    value = str_value(item)  # unquoted ${X} holding digits: shown as '${X}', not its value
    if not value:
        raise Invalid(f"must not be empty (${{{ref.group(1)}}} is empty)")
    if ref.group(2) is not None and value == ref.group(2):
        issues.warn(item, f"${{{ref.group(1)}}} is not set: using the default written in the "
                          "config")
    return value


def file_secret(item: Item, issues: Issues) -> str:
    """The content of the secret file named by the item (see module doc)."""
    path = str_value(item)
    if not path:
        raise Invalid("must not be empty")
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(item.file), path)
    try:
        value = read_secret_file(path)
    except SecretFileError as exc:
        raise Invalid(str(exc)) from None
    issues.secrets.append(value)
    return value


def secret_keys(key: str) -> dict[str, Conv]:
    """Spec entries for a secret `key` and its `key_file` twin."""
    return {key: env_secret, f"{key}_file": file_secret}


def take_file_secret(sec: Section, key: str, issues: Issues) -> None:
    """Move `key_file`'s value into `key` (what the model holds); both given is an error."""
    file_key = f"{key}_file"
    if key in sec.items and file_key in sec.items:
        issues.at(sec.items[file_key], f"give {key} or {file_key}, not both")
    value = sec.values.pop(file_key, None)
    if value is not None and key not in sec.items:
        sec.values[key] = value
