"""Settings: one TOML file (``upskill.toml``), every value overridable by ``UPSKILL_...``.

Precedence, highest first: environment variables (``UPSKILL_MOODLE__URL``: sections joined
by a double underscore), the configuration file, the embedded defaults. The file is the one
given by ``--config``, else ``UPSKILL_CONFIG``, else ``./upskill.toml`` when it exists; with no
file at all the embedded defaults run the bundled sample organisation against a local Moodle
sandbox.

Secrets are :class:`~pydantic.SecretStr`, given either inline through the environment
(``UPSKILL_MOODLE__TOKEN``) or as a path to a file holding them (``token_file``). They are
never printed: ``repr`` and ``upskill config check`` show ``**********``.

Relative paths are resolved against the folder of the configuration file, or the working
directory when there is none.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from connector.errors import ConfigError

DEFAULT_CONFIG_NAME = "upskill.toml"
ENV_PREFIX = "UPSKILL_"

_file_values: ContextVar[dict[str, Any] | None] = ContextVar("_file_values", default=None)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def read_secret(inline: SecretStr | None, path: Path | None, what: str) -> str | None:
    """The secret's value, from the inline setting or the file it points to."""
    if inline is not None:
        return inline.get_secret_value()
    if path is None:
        return None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{what}: cannot read the secret file {path} ({exc.strerror}); "
            "check the path and its permissions"
        ) from exc
    if not value:
        raise ConfigError(f"{what}: the secret file {path} is empty")
    return value


class CsvColumns(Section):
    """Column names of the HR export. Empty means the export has no such column."""

    key: str = "employee_id"
    email: str = "work_email"
    first_name: str = "first_name"
    last_name: str = "last_name"
    department: str = "department"
    title: str = "title"
    manager_key: str = "manager_employee_id"
    status: str = "status"
    groups: str = "groups"
    extra: tuple[str, ...] = ("division", "location", "employment_type", "cost_center")


class CsvStatuses(Section):
    """Which values of the status column mean what (compared case-insensitively)."""

    active: tuple[str, ...] = ("active", "")
    disabled: tuple[str, ...] = ("leave", "disabled", "suspended", "inactive")
    left: tuple[str, ...] = ("terminated", "left", "deprovisioned")


class CsvSource(Section):
    """An HR export as a CSV file."""

    type: Literal["csv"] = "csv"
    path: Path = Path("examples/org.csv")
    groups_path: Path | None = None  # group,parent nesting edges; default: groups.csv beside
    encoding: str = "auto"  # auto: UTF-8 with or without BOM, else cp1252
    delimiter: str = "auto"  # auto: detected among , ; tab |
    group_separator: str = ";"
    columns: CsvColumns = CsvColumns()
    statuses: CsvStatuses = CsvStatuses()

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value != "auto" and len(value) != 1:
            raise ValueError("must be 'auto' or a single character such as ',' or ';'")
        return value


class StateSettings(Section):
    """The state database: SQLite by default, PostgreSQL through a URL."""

    url: SecretStr | None = None  # may hold a password: treated as a secret
    url_file: Path | None = None


class MappingsSettings(Section):
    path: Path = Path("mappings")


MoodleAuth = Literal["manual", "oauth2", "saml2", "ldap", "shibboleth", "cas", "nologin"]


class MoodleSettings(Section):
    """A Moodle site reached through its REST web services."""

    enabled: bool = True
    url: str = "http://127.0.0.1:8765"
    token: SecretStr | None = None
    token_file: Path | None = None
    timeout: float = Field(30.0, gt=0)
    verify_tls: bool = True
    ca_file: Path | None = None
    retries: int = Field(3, ge=0, le=10)
    max_input_vars: int = Field(4000, ge=100)  # form pairs per request, under PHP's limit
    student_role_id: int = Field(5, ge=1)
    auth: MoodleAuth = "manual"
    username_from: Literal["email", "key"] = "email"
    removal: Literal["suspend", "unenroll"] = "suspend"  # unenrol deletes grades on Moodle

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. https://moodle.example.org")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_token_source(self) -> MoodleSettings:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set either token (environment) or token_file, not both")
        return self


class TargetsSettings(Section):
    moodle: MoodleSettings = MoodleSettings()


class ReportSettings(Section):
    out_dir: Path = Path("var/reports")
    title: str = "Generative AI upskilling progress"


class ScheduleSettings(Section):
    """When ``upskill worker`` runs the nightly sync (cron fields, server local time)."""

    cron: str = "0 2 * * *"
    timezone: str = "UTC"


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    base_dir: Path = Path(".")
    directory: CsvSource = CsvSource()
    state: StateSettings = StateSettings()
    mappings: MappingsSettings = MappingsSettings()
    targets: TargetsSettings = TargetsSettings()
    report: ReportSettings = ReportSettings()
    schedule: ScheduleSettings = ScheduleSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSource(settings_cls))

    def path(self, value: Path) -> Path:
        """A configured path, resolved against the configuration's folder."""
        return value if value.is_absolute() else (self.base_dir / value)

    def state_url(self) -> str:
        url = read_secret(self.state.url, self.path_or_none(self.state.url_file), "state.url")
        if url:
            return url
        return f"sqlite:///{self.path(Path('var/upskill.db'))}"

    def moodle_token(self) -> str | None:
        moodle = self.targets.moodle
        return read_secret(moodle.token, self.path_or_none(moodle.token_file), "targets.moodle")

    def path_or_none(self, value: Path | None) -> Path | None:
        return None if value is None else self.path(value)


class _FileSource(PydanticBaseSettingsSource):
    """Values read from the configuration file (already parsed by :func:`load_settings`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return (_file_values.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_file_values.get() or {})


def config_path(explicit: str | Path | None) -> Path | None:
    """The configuration file to read, or None to run on the embedded defaults."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get("UPSKILL_CONFIG")
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(explicit: str | Path | None = None) -> Settings:
    """Read and validate the configuration; raise :class:`ConfigError` listing every problem."""
    path = config_path(explicit)
    values: dict[str, Any] = {}
    where = "embedded defaults"
    if path is not None:
        where = str(path)
        try:
            values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"{path}: configuration file not found; pass --config or set UPSKILL_CONFIG"
            ) from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
        values.setdefault("base_dir", str(path.resolve().parent))
    token = _file_values.set(values)
    try:
        settings = Settings()
    except ValidationError as exc:
        raise ConfigError(
            f"{where}: the configuration has {exc.error_count()} problem(s)",
            [_describe(err) for err in exc.errors()],
        ) from None
    finally:
        _file_values.reset(token)
    return settings


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    env = ENV_PREFIX + "__".join(str(p).upper() for p in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting; check its spelling against the README"
    shown = "" if err["type"] in ("extra_forbidden", "missing") else f" (got {_safe(err)})"
    return f"{loc}: {msg}{shown} [file key {loc} or variable {env}]"


def _safe(err: Any) -> str:
    if any("token" in str(p) or "password" in str(p) or str(p) == "url" for p in err["loc"]):
        return "**********"
    text = repr(err.get("input"))
    return text if len(text) <= 60 else text[:57] + "..."
