"""What every settings table is made of. A setting is a field of a `Table` model, declared once:
`Field(default, ge=…, le=…, description=…)` gives its default, bounds and help (the help is the row of
docs/CONFIGURATION.md, in Markdown), and `Annotated` metadata says what pydantic cannot:

- `Shown`: the default as the docs show it, where the real one is computed or implied
  (`<user data dir>/llmgw.db`, `auto` for `None`, "per type");
- `EnvName`: a `[server]` setting's environment variable, where it is not `LLMGW_<NAME>`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict
from pydantic.fields import FieldInfo


class Table(BaseModel):
    """A table of the configuration file: unknown keys are errors, and the loaded values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class Shown:
    """The default as docs/CONFIGURATION.md shows it (Markdown), for a default that is computed or implied."""

    markdown: str


@dataclass(frozen=True, slots=True)
class EnvName:
    """The environment variable of a `[server]` setting, where it is not `LLMGW_<NAME>`."""

    name: str


def env_var(name: str, field: FieldInfo) -> str:
    """The environment variable that overrides the `[server]` setting `name`."""
    marked = next((m.name for m in field.metadata if isinstance(m, EnvName)), None)
    return marked or f"LLMGW_{name.upper()}"


def shown(field: FieldInfo) -> str | None:
    """The `Shown` form of a field's default, if it has one."""
    return next((m.markdown for m in field.metadata if isinstance(m, Shown)), None)
