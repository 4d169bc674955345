from datetime import timedelta
from pathlib import Path

import pytest

from workforce.app import create_app
from workforce.settings import Environment, Settings, SettingsError


def test_defaults_run_without_configuration() -> None:
    settings = Settings.from_env({})
    assert settings.env is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite:///var/workforce.db"
    assert settings.scheduler_enabled is True


def test_values_are_read_and_typed() -> None:
    settings = Settings.from_env({
        "WORKFORCE_DATABASE_URL": "postgresql+psycopg://u@db/workforce",
        "WORKFORCE_TOKEN_LIFETIME": "3600",
        "WORKFORCE_SCHEDULER_ENABLED": "false",
        "WORKFORCE_MAX_BODY_BYTES": "2048",
        "WORKFORCE_LOGIN_LIMIT_PER_ACCOUNT": "3 per minute",
    })
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.token_lifetime == timedelta(hours=1)
    assert settings.scheduler_enabled is False
    assert settings.max_body_bytes == 2048
    assert settings.login_limit_per_account == "3 per minute"


def test_production_refuses_to_start_without_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="WORKFORCE_SECRET_KEY"):
        Settings.from_env({"WORKFORCE_ENV": "production", "WORKFORCE_EMAIL_SENDER": "log"})
    settings = Settings.from_env({
        "WORKFORCE_ENV": "production", "WORKFORCE_SECRET_KEY": "x" * 40,
        "WORKFORCE_EMAIL_SENDER": "log",
        "WORKFORCE_PUBLIC_BASE_URL": "https://workforce.example.com",
    })
    assert settings.effective_secret_key == "x" * 40


def test_production_refuses_the_console_mail_sender() -> None:
    with pytest.raises(SettingsError, match="EMAIL_SENDER"):
        Settings.from_env({"WORKFORCE_ENV": "production", "WORKFORCE_SECRET_KEY": "x" * 40})


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("WORKFORCE_ENV", "staging", "WORKFORCE_ENV"),
        ("WORKFORCE_TOKEN_LIFETIME", "soon", "WORKFORCE_TOKEN_LIFETIME"),
        ("WORKFORCE_SCHEDULER_ENABLED", "perhaps", "WORKFORCE_SCHEDULER_ENABLED"),
        ("WORKFORCE_MAX_BODY_BYTES", "12", "WORKFORCE_MAX_BODY_BYTES"),
        ("WORKFORCE_LOG_FORMAT", "xml", "WORKFORCE_LOG_FORMAT"),
        ("WORKFORCE_EMAIL_SENDER", "pigeon", "WORKFORCE_EMAIL_SENDER"),
        ("WORKFORCE_EMAIL_SENDER", "smtp", "WORKFORCE_SMTP_URL"),
        ("WORKFORCE_FILE_STORE", "floppy", "WORKFORCE_FILE_STORE"),
        ("WORKFORCE_FILE_STORE", "s3", "WORKFORCE_S3_BUCKET"),
        ("WORKFORCE_UPLOAD_SLOT_LIFETIME", "0", "WORKFORCE_UPLOAD_SLOT_LIFETIME"),
        ("WORKFORCE_DOWNLOAD_LINK_LIFETIME", "604801", "WORKFORCE_DOWNLOAD_LINK_LIFETIME"),
    ],
)
def test_bad_values_are_named(name: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({name: value})


def test_create_app_does_no_io(tmp_path: Path) -> None:
    # A database that does not exist yet: creating the app must not touch it.
    url = f"sqlite:///{tmp_path / 'never' / 'created.db'}"
    app = create_app(Settings(env=Environment.TEST, database_url=url), configure_logging=False)
    assert app.config["DEBUG"] is False
    assert not (tmp_path / "never" / "created.db").exists()
    # Nor the file store: its folder is made on the first upload.
    files = create_app(Settings(env=Environment.TEST, database_url=url,
                                file_store_dir=str(tmp_path / "files")),
                       configure_logging=False).extensions["workforce"].files
    assert files is not None and not (tmp_path / "files").exists()


def test_defaults_given_by_the_caller_yield_to_the_environment() -> None:
    """``workforce serve --port`` hands in its own address as the public base URL's
    default; a WORKFORCE_PUBLIC_BASE_URL that is set still wins."""
    served = {"public_base_url": "http://127.0.0.1:9000"}
    assert Settings.from_env({}, defaults=served).public_base_url == "http://127.0.0.1:9000"
    configured = {"WORKFORCE_PUBLIC_BASE_URL": "https://workforce.example.com"}
    assert Settings.from_env(configured, defaults=served).public_base_url == \
        "https://workforce.example.com"
