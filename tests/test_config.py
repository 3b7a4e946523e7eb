"""Tests for seatwise.config: defaults, environment over seatwise.toml, and clear ConfigErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from seatwise.config import SECTIONS, RecommendationSettings, Settings, load_settings
from seatwise.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake home, and a working directory without a seatwise.toml."""
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


def test_defaults(home: Path) -> None:
    settings = load_settings(env={"HOME": str(home)})
    data_dir = home / ".local" / "share" / "seatwise"
    assert settings.data_dir == data_dir
    assert settings.database_url is None
    assert settings.effective_database_url == f"sqlite:///{data_dir}/seatwise.db"
    assert settings.graph_url == "https://graph.microsoft.com"
    assert settings.authority_host == "https://login.microsoftonline.com"
    assert settings.ca_bundle is None
    assert settings.secret_key is None
    assert settings.secure_cookies is False


def test_xdg_data_home(home: Path) -> None:
    xdg = home / "xdg"
    settings = load_settings(env={"HOME": str(home), "XDG_DATA_HOME": str(xdg)})
    assert settings.data_dir == xdg / "seatwise"


def test_relative_xdg_data_home_is_ignored(home: Path) -> None:
    settings = load_settings(env={"HOME": str(home), "XDG_DATA_HOME": "relative/dir"})
    assert settings.data_dir == home / ".local" / "share" / "seatwise"


def test_environment_overrides(home: Path, tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked for content\n")
    env = {
        "HOME": str(home),
        "SEATWISE_DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1/db",
        "SEATWISE_DATA_DIR": "~/sw",
        "SEATWISE_GRAPH_URL": "https://127.0.0.1:8443/",
        "SEATWISE_AUTHORITY_HOST": "https://127.0.0.1:8443",
        "SEATWISE_CA_BUNDLE": str(ca),
        "SEATWISE_SECRET_KEY": "s3cret",
        "SEATWISE_SECURE_COOKIES": "true",
        "SEATWISE_TEST_DATABASE_URL": "ignored: not a setting",
    }
    settings = load_settings(env=env)
    assert settings.effective_database_url == "postgresql+psycopg://u:p@127.0.0.1/db"
    assert settings.data_dir == home / "sw"
    assert settings.graph_url == "https://127.0.0.1:8443"
    assert settings.authority_host == "https://127.0.0.1:8443"
    assert settings.ca_bundle == ca
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)
    assert settings.secure_cookies is True


def test_empty_variable_means_default(home: Path) -> None:
    settings = load_settings(env={"HOME": str(home), "SEATWISE_GRAPH_URL": ""})
    assert settings.graph_url == "https://graph.microsoft.com"


def test_toml_file(home: Path, tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_text("x\n")
    file = tmp_path / "seatwise.toml"
    file.write_text(
        'graph_url = "https://graph.example.test/"\n'
        'data_dir = "state"\n'
        'ca_bundle = "certs/ca.pem"\n'
        'database_url = "sqlite:///elsewhere.db"\n'
    )
    settings = load_settings(env={"HOME": str(home)}, file=file)
    assert settings.graph_url == "https://graph.example.test"
    # relative paths in the file are relative to the file's directory
    assert settings.data_dir == tmp_path / "state"
    assert settings.ca_bundle == tmp_path / "certs" / "ca.pem"
    assert settings.effective_database_url == "sqlite:///elsewhere.db"


def test_toml_in_working_directory_is_found(home: Path) -> None:
    Path("seatwise.toml").write_text('graph_url = "https://cwd.example.test"\n')
    assert load_settings(env={"HOME": str(home)}).graph_url == "https://cwd.example.test"


def test_toml_in_data_dir_is_found(home: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "seatwise.toml").write_text('graph_url = "https://dir.example.test"\n')
    env = {"HOME": str(home), "SEATWISE_DATA_DIR": str(data_dir)}
    assert load_settings(env=env).graph_url == "https://dir.example.test"


def test_environment_beats_file(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text('graph_url = "https://file.example.test"\nsecret_key = "from-file"\n')
    env = {"HOME": str(home), "SEATWISE_GRAPH_URL": "https://env.example.test"}
    settings = load_settings(env=env, file=file)
    assert settings.graph_url == "https://env.example.test"
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "from-file"


def test_unknown_key_suggests_closest(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text('graph_ur = "https://graph.example.test"\n')
    with pytest.raises(ConfigError, match=r"Unknown setting 'graph_ur' .*did you mean 'graph_url'"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_unknown_key_in_env_style_suggests_field(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text('SEATWISE_CA_BUNDLE = "x"\n')
    with pytest.raises(ConfigError, match="did you mean 'ca_bundle'"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_unknown_key_without_close_match_lists_keys(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("zzz = 1\n")
    with pytest.raises(ConfigError, match="valid keys: database_url, data_dir"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_bad_ca_bundle_from_env(home: Path, tmp_path: Path) -> None:
    env = {"HOME": str(home), "SEATWISE_CA_BUNDLE": str(tmp_path / "missing.pem")}
    with pytest.raises(ConfigError, match="SEATWISE_CA_BUNDLE is invalid: .*missing.pem"):
        load_settings(env=env)


def test_bad_ca_bundle_from_file_names_the_file(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text('ca_bundle = "missing.pem"\n')
    with pytest.raises(ConfigError, match=r"'ca_bundle' in .*seatwise.toml is invalid"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_bad_url_is_one_sentence(home: Path) -> None:
    env = {"HOME": str(home), "SEATWISE_AUTHORITY_HOST": "http://login.example.test"}
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    message = str(info.value)
    assert message == (
        "Setting SEATWISE_AUTHORITY_HOST is invalid: "
        "'http://login.example.test' is not an https URL."
    )
    assert info.value.exit_code == 3


def test_wrong_type_in_file(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("graph_url = 42\n")
    with pytest.raises(ConfigError, match="'graph_url' in .* is invalid: Input should be"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_invalid_toml(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("graph_url = \n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_missing_explicit_file(home: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(env={"HOME": str(home)}, file=tmp_path / "nope.toml")


def test_settings_are_frozen(home: Path) -> None:
    settings = load_settings(env={"HOME": str(home)})
    with pytest.raises(ValidationError):
        settings.graph_url = "https://elsewhere.example.test"


def test_constructing_settings_ignores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEATWISE_GRAPH_URL", "https://env.example.test")
    assert Settings(data_dir=tmp_path).graph_url == "https://graph.microsoft.com"


def test_every_field_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name}`" in text, f"{name} is missing from docs/configuration.md"
        if name in SECTIONS:  # a TOML table, read from the file only
            assert f"`[{name}]`" in text, f"the [{name}] section is not documented"
            for key in SECTIONS[name].model_fields:
                assert f"`{key}`" in text, f"{name}.{key} is missing from docs/configuration.md"
        else:
            assert f"`SEATWISE_{name.upper()}`" in text, f"SEATWISE_{name.upper()} not documented"


def test_recommendations_section_defaults(home: Path) -> None:
    settings = load_settings(env={"HOME": str(home)})
    assert settings.recommendations == RecommendationSettings()
    assert settings.recommendations.inactive_days == 90
    assert settings.recommendations.grace_days == 30
    assert settings.recommendations.stale_report_days == 7
    assert settings.recommendations.exclude_mfa_or_sso is True
    assert settings.recommendations.exclude_upns == ()


def test_recommendations_section_from_toml(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text(
        'graph_url = "https://graph.example.test"\n'
        "[recommendations]\n"
        "inactive_days = 60\n"
        "exclude_mfa_or_sso = false\n"
        'exclude_upns = ["svc-*@contoso.test"]\n'
        'exclude_kinds = ["service", "room"]\n'
    )
    section = load_settings(env={"HOME": str(home)}, file=file).recommendations
    assert section.inactive_days == 60
    assert section.grace_days == 30
    assert section.exclude_mfa_or_sso is False
    assert section.exclude_upns == ("svc-*@contoso.test",)
    assert section.exclude_kinds == ("service", "room")


def test_recommendations_unknown_key_suggests_closest(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("[recommendations]\ninactive_dys = 60\n")
    with pytest.raises(
        ConfigError,
        match=r"Unknown setting 'inactive_dys' in \[recommendations\] of .*seatwise.toml; "
        r"did you mean 'inactive_days'\?",
    ):
        load_settings(env={"HOME": str(home)}, file=file)


def test_recommendations_unknown_key_without_close_match(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("[recommendations]\nzzz = 1\n")
    with pytest.raises(ConfigError, match="valid keys: inactive_days, grace_days"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_recommendations_invalid_value_names_the_key(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text('[recommendations]\nexclude_kinds = ["robot"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(env={"HOME": str(home)}, file=file)
    assert str(info.value).startswith(
        f"Setting 'exclude_kinds' in [recommendations] of {file} is invalid: 'robot' is not"
    )
    file.write_text("[recommendations]\ninactive_days = 0\n")
    with pytest.raises(ConfigError, match="'inactive_days' in .recommendations. of .* invalid"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_recommendations_must_be_a_table(home: Path, tmp_path: Path) -> None:
    file = tmp_path / "seatwise.toml"
    file.write_text("recommendations = 5\n")
    with pytest.raises(ConfigError, match=r"must be a table: \[recommendations\]"):
        load_settings(env={"HOME": str(home)}, file=file)


def test_recommendations_are_not_read_from_the_environment(home: Path) -> None:
    env = {"HOME": str(home), "SEATWISE_RECOMMENDATIONS": "inactive_days = 1"}
    assert load_settings(env=env).recommendations == RecommendationSettings()
