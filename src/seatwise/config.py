"""Settings of seatwise and their one loader, `load_settings` (environment, then `seatwise.toml`).

The only module of seatwise that reads the environment: every other module receives a `Settings`.
Imports nothing from seatwise except `seatwise.errors`.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from seatwise.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "SECTIONS",
    "SETTINGS_FILE",
    "RecommendationSettings",
    "Settings",
    "SyncSettings",
    "load_settings",
]

ENV_PREFIX = "SEATWISE_"
SETTINGS_FILE = "seatwise.toml"

_PATH_FIELDS = frozenset({"data_dir", "ca_bundle"})


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(home) if home else Path.home()


def _default_data_dir(environ: Mapping[str, str]) -> Path:
    # XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
    xdg = environ.get("XDG_DATA_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "seatwise"
    return _home(environ) / ".local" / "share" / "seatwise"


def _check_url(value: str, *, https_only: bool) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes or not parts.netloc:
        kind = "an https URL" if https_only else "an http or https URL"
        raise ValueError(f"{value!r} is not {kind}")
    return value


ACCOUNT_KINDS = ("person", "service", "shared", "room")


class RecommendationSettings(BaseModel):
    """The `[recommendations]` section: thresholds and exclusions of the recommendation rules.

    Read from `seatwise.toml` only (a table does not fit in one environment variable).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    inactive_days: int = Field(
        default=90,
        ge=1,
        description="Days without any activity or sign-in that make a user inactive.",
    )
    grace_days: int = Field(
        default=30, ge=0, description="Days after assignment before a licence is judged unused."
    )
    stale_report_days: int = Field(
        default=7,
        ge=0,
        description="Usage reports older than this turn activity-based results into reviews.",
    )
    workload_days: int = Field(
        default=90,
        ge=1,
        description="E5→E3: Power BI use within this many days keeps the E5.",
    )
    f3_mailbox_gb: float = Field(
        default=2.0, gt=0, description="E3→F3: the mailbox must be smaller than this (GB)."
    )
    f3_onedrive_gb: float = Field(
        default=2.0, gt=0, description="E3→F3: OneDrive must hold less than this (GB)."
    )
    exclude_mfa_or_sso: bool = Field(
        default=True,
        description="Never propose reclaiming from users with MFA registered or synced (SSO).",
    )
    exclude_upns: tuple[str, ...] = Field(
        default=(), description="UPN glob patterns of users the rules leave alone."
    )
    exclude_groups: tuple[str, ...] = Field(
        default=(), description="Group ids: users licensed through them are left alone."
    )
    exclude_kinds: tuple[str, ...] = Field(
        default=(), description="Account kinds left alone: person, service, shared, room."
    )
    exclude_service_account_patterns: bool = Field(
        default=False, description="Also leave alone UPNs that look like service accounts."
    )

    @field_validator("exclude_kinds")
    @classmethod
    def _kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for kind in value:
            if kind not in ACCOUNT_KINDS:
                raise ValueError(f"{kind!r} is not an account kind ({', '.join(ACCOUNT_KINDS)})")
        return value

    @field_validator("exclude_upns", "exclude_groups")
    @classmethod
    def _not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not item.strip() for item in value):
            raise ValueError("entries must not be empty")
        return tuple(item.strip() for item in value)


class SyncSettings(BaseModel):
    """The `[sync]` section: what the integration tasks keep (DESIGN §3) and how long they wait
    for Graph.

    Read from `seatwise.toml` only, like `[recommendations]`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    retention_days: int = Field(
        default=90,
        ge=90,
        le=3650,
        description=(
            "Days of daily history kept for activations, mail and OneDrive usage and "
            "Windows/Mac/Mobile/Web: at least the seed's 90, longer allowed (at most ten years)."
        ),
    )
    graph_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description=(
            "Seconds to wait for Graph to answer a request (a whole request gets twice that, a "
            "report download six times); a call that times out twice in a row fails its task."
        ),
    )


# Settings that are TOML tables (`[name]`), read from the file only.
SECTIONS: dict[str, type[BaseModel]] = {
    "recommendations": RecommendationSettings,
    "sync": SyncSettings,
}


class Settings(BaseModel):
    """Everything seatwise can be configured with; frozen, built by `load_settings`.

    A plain pydantic model, not a pydantic-settings one (whose import costs every command start),
    so constructing `Settings` never reads the environment behind the caller's back: only keyword
    arguments count, and `load_settings` layers defaults, `seatwise.toml` and the environment
    explicitly. Defaults are validated like given values (`data_dir` is made absolute).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database; None means a SQLite file in data_dir.",
    )
    data_dir: Path = Field(
        default_factory=lambda: _default_data_dir(os.environ),
        description="Directory for the SQLite database, key file and seatwise.toml.",
    )
    graph_url: str = Field(
        default="https://graph.microsoft.com",
        description="Base URL of Microsoft Graph (or of the simulator), without a trailing slash.",
    )
    authority_host: str = Field(
        default="https://login.microsoftonline.com",
        description="Base URL of the Microsoft identity platform that issues tokens.",
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="Extra PEM file of CA certificates to trust, e.g. the simulator's.",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts refresh tokens at rest.",
    )
    secure_cookies: bool = Field(
        default=False,
        description=(
            "Send the web UI's session cookie over HTTPS only: turn on when seatwise is served "
            "behind a TLS-terminating proxy."
        ),
    )
    recommendations: RecommendationSettings = Field(
        default_factory=RecommendationSettings,
        description="Thresholds and exclusions of the recommendation rules (a TOML table).",
    )
    sync: SyncSettings = Field(
        default_factory=SyncSettings,
        description="What the tasks keep and how long they wait for Graph (a TOML table).",
    )

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("graph_url")
    @classmethod
    def _graph_url(cls, value: str) -> str:
        return _check_url(value, https_only=False)

    @field_validator("authority_host")
    @classmethod
    def _authority_host(cls, value: str) -> str:
        # MSAL refuses authorities that are not https.
        return _check_url(value, https_only=True)

    @field_validator("ca_bundle")
    @classmethod
    def _ca_bundle(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        path = value.expanduser().absolute()
        if not path.is_file():
            raise ValueError(f"{str(path)!r} does not exist or is not a file")
        return path

    @property
    def effective_database_url(self) -> str:
        """The database URL to connect to: `database_url`, else SQLite in `data_dir`."""
        return self.database_url or f"sqlite:///{self.data_dir / 'seatwise.db'}"


def _expand(value: str, home: Path, base: Path | None) -> Path:
    """Expand `~` with the given home; make a relative path relative to `base` when given."""
    if value == "~" or value.startswith("~/"):
        path = home / value[2:]
    else:
        path = Path(value)
    return base / path if base is not None and not path.is_absolute() else path


def _from_env(environ: Mapping[str, str], home: Path) -> dict[str, tuple[Any, str]]:
    values: dict[str, tuple[Any, str]] = {}
    for name in Settings.model_fields:
        if name in SECTIONS:
            continue
        var = ENV_PREFIX + name.upper()
        raw = environ.get(var, "").strip()
        if raw:  # unset and empty mean the same: the default
            values[name] = (_expand(raw, home, None) if name in _PATH_FIELDS else raw, var)
    return values


def _unknown_key(key: str, fields: list[str], where: str) -> ConfigError:
    guess = key.lower().removeprefix(ENV_PREFIX.lower())
    close = difflib.get_close_matches(guess, fields, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(fields)}."
    return ConfigError(f"Unknown setting {key!r} in {where}; {hint}")


def _section(name: str, raw: Any, path: Path) -> dict[str, Any]:
    """Check a `[name]` table's keys (an unknown one names the closest) and return it."""
    if not isinstance(raw, dict):
        raise ConfigError(f"Setting {name!r} in {path} must be a table: [{name}].")
    fields = list(SECTIONS[name].model_fields)
    for key in raw:
        if key not in fields:
            raise _unknown_key(key, fields, f"[{name}] of {path}")
    return raw


def _from_file(path: Path, home: Path) -> dict[str, tuple[Any, str]]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"Cannot read settings file {path}: {exc.strerror}.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"Settings file {path} is not valid TOML: {exc}.") from exc
    fields = list(Settings.model_fields)
    values: dict[str, tuple[Any, str]] = {}
    for key, raw in data.items():
        if key not in fields:
            raise _unknown_key(key, fields, str(path))
        if key in SECTIONS:
            values[key] = (_section(key, raw, path), f"{key!r} in {path}")
            continue
        if isinstance(raw, str) and not raw.strip():
            continue
        if key in _PATH_FIELDS and isinstance(raw, str):
            raw = _expand(raw.strip(), home, path.parent)  # relative to the file, not the cwd
        values[key] = (raw, f"{key!r} in {path}")
    return values


def _first_error(exc: ValidationError, labels: Mapping[str, str]) -> str:
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    label = labels.get(field, field)
    if field in SECTIONS and len(loc) > 1:
        # "'recommendations' in F" → "'inactive_days' in [recommendations] of F"
        label = label.replace(f"{field!r} in ", f"{loc[1]!r} in [{field}] of ", 1)
    return f"Setting {label} is invalid: {message}."


def load_settings(env: Mapping[str, str] | None = None, file: Path | None = None) -> Settings:
    """Load settings from the environment (or `env`) over a `seatwise.toml` file over defaults.

    Without `file`, `./seatwise.toml` is read if it exists, else `<data_dir>/seatwise.toml` if it
    exists. Variables are `SEATWISE_<FIELD>`, file keys the field names. Raises `ConfigError`
    with one sentence for an unreadable file, an unknown key or an invalid value.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    home = _home(environ)
    from_env = _from_env(environ, home)
    if file is None:
        env_dir = from_env.get("data_dir")
        data_dir = Path(env_dir[0]) if env_dir else _default_data_dir(environ)
        candidates = (Path.cwd() / SETTINGS_FILE, data_dir.absolute() / SETTINGS_FILE)
        file = next((c for c in candidates if c.is_file()), None)
    elif not file.is_file():
        raise ConfigError(f"Settings file {file} does not exist.")
    from_file = _from_file(file, home) if file is not None else {}
    merged = {**from_file, **from_env}  # the environment wins over the file
    values = {name: value for name, (value, _) in merged.items()}
    values.setdefault("data_dir", _default_data_dir(environ))
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        labels = {name: label for name, (_, label) in merged.items()}
        raise ConfigError(_first_error(exc, labels)) from exc


def secret_from_environment(variable: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of the environment variable a user named for a secret (`--client-secret-env`).

    Secrets are read from a variable the user chooses rather than from a command-line argument,
    so they stay out of shell history and process listings. Empty means unset.
    """
    value = (os.environ if env is None else env).get(variable)
    return value or None
