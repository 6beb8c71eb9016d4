"""Config loading: defaults, YAML, flags over YAML, and every error path's message."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tidewell.config import Config, duplicate_flags, help_text, load
from tidewell.util.config_fields import format_duration, parse_duration
from tidewell.util.config_tree import ConfigError, to_nested_dict


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "tidewell.yaml"
    path.write_text(text)
    return str(path)


def test_defaults_match_mimir() -> None:
    config = load([]).config
    assert config.target == ["all"]
    assert config.multitenancy_enabled is True
    assert config.no_auth_tenant == "anonymous"
    assert config.server.http_listen_port == 8080
    assert config.server.log_level == "info"
    assert config.server.log_format == "logfmt"
    assert config.common.storage.path == "./tidewell-data"


def test_single_and_double_dash_flags_and_separate_values() -> None:
    config = load(
        [
            "-server.http-listen-port=9001",
            "--log.level",
            "debug",
            "-auth.multitenancy-enabled=false",
        ]
    ).config
    assert config.server.http_listen_port == 9001
    assert config.server.log_level == "debug"
    assert config.multitenancy_enabled is False


def test_bare_boolean_flag_means_true(tmp_path: Path) -> None:
    path = write(tmp_path, "multitenancy_enabled: false\n")
    assert load(["-config.file", path, "-auth.multitenancy-enabled"]).config.multitenancy_enabled


def test_comma_separated_targets() -> None:
    assert load(["-target=distributor,ingester"]).config.target == ["distributor", "ingester"]


def test_yaml_file_then_flags_override(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "server:\n  http_listen_port: 9100\n  log_level: warn\ncommon:\n  storage:\n"
        "    path: /data\n",
    )
    config = load([f"-config.file={path}", "-server.http-listen-port=9200"]).config
    assert config.server.http_listen_port == 9200  # flag wins
    assert config.server.log_level == "warn"  # from the file
    assert config.common.storage.path == "/data"


def test_yaml_durations_accept_go_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  graceful_shutdown_timeout: 1m30s\n")
    assert load(["-config.file", path]).config.server.graceful_shutdown_timeout == 90.0


def test_env_expansion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TW_PORT", "9300")
    path = write(tmp_path, "server:\n  http_listen_port: ${TW_PORT}\n  log_level: ${NOPE:error}\n")
    config = load(["-config.file", path, "-config.expand-env=true"]).config
    assert config.server.http_listen_port == 9300
    assert config.server.log_level == "error"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-bad-flag"], "flag provided but not defined: -bad-flag"),
        (["-target=foo"], "invalid value 'foo' for flag -target: allowed values are all,"),
        (
            ["-server.http-listen-port=abc"],
            "invalid value 'abc' for flag -server.http-listen-port: expected int",
        ),
        (["-server.http-listen-port=70000"], "-server.http-listen-port: must be between 0"),
        (["-log.level=trace"], "allowed values are debug, info, warn, error"),
        (["-log.format=xml"], "allowed values are logfmt, json"),
        (["-server.graceful-shutdown-timeout=soon"], 'invalid duration "soon"'),
        (["-auth.multitenancy-enabled=maybe"], "expected boolean"),
        (["-server.http-listen-port"], "flag -server.http-listen-port needs a value"),
        (["positional"], "unexpected argument 'positional'"),
        (["-config.file=/nonexistent/tw.yaml"], "cannot read -config.file '/nonexistent/tw.yaml'"),
    ],
)
def test_flag_errors_name_the_flag(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(argv)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        (
            "server:\n  http_listen_port: abc\n",
            "config key 'server.http_listen_port': expected int",
        ),
        ("server:\n  nope: 1\n", "unknown configuration key 'server.nope'"),
        ("bogus: 1\n", "unknown configuration key 'bogus'"),
        ("server: 5\n", "config key 'server' must be a mapping"),
        ("server:\n  log_level: [a]\n", "config key 'server.log_level'"),
        ("multitenancy_enabled: yes-please\n", "expected boolean"),
        ("server: [\n", "is not valid YAML at line"),
        ("- a\n- b\n", "must hold a YAML mapping"),
    ],
)
def test_yaml_errors_name_the_key(tmp_path: Path, yaml_text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(["-config.file", write(tmp_path, yaml_text)])
    assert message in str(info.value)


def test_help_lists_every_flag_with_default() -> None:
    text = help_text()
    assert "-server.http-listen-port value" in text
    assert "(default '8080')" in text
    assert "-auth.multitenancy-enabled" in text
    assert load(["-help"]).show_help
    assert load(["-version"]).show_version


def test_diff_mode_lists_only_changed_settings() -> None:
    config = Config()
    config.server.http_listen_port = 1234
    assert to_nested_dict(config, only_changed=True) == {"server": {"http_listen_port": 1234}}
    full = to_nested_dict(config)
    assert full["server"]["graceful_shutdown_timeout"] == "30s"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("15s", 15.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1d", 86400.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (15, "15s"), (90, "1m30s"), (7200, "2h0m0s"), (0.5, "500ms")]
)
def test_format_duration_like_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_every_flag_is_declared_once() -> None:
    assert duplicate_flags() == []


def test_native_histograms_are_enabled_by_default_as_in_mimir_3() -> None:
    assert load([]).config.limits.native_histograms_ingestion_enabled is True
    assert load(["-ingester.native-histograms-ingestion-enabled=false"]
                ).config.limits.native_histograms_ingestion_enabled is False


def test_runtime_override_can_disable_native_histograms_per_tenant() -> None:
    from tidewell.distributor.limits import Limits

    assert not Limits().with_overrides(
        {"native_histograms_ingestion_enabled": False}).native_histograms_ingestion_enabled


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["-blocks-storage.backend=s3"], "-blocks-storage.s3.bucket-name: must be set"),
        (["-ingester.ring.store=etcd"], "-ingester.ring.etcd.endpoints must be set"),
        (["-blocks-storage.bucket-store.sync-interval=0"],
         "-blocks-storage.bucket-store.sync-interval: must be > 0"),
        (["-auth.no-auth-tenant=a/b"],
         "invalid value for -auth.no-auth-tenant: tenant ID contains unsupported character"),
        (["-auth.no-auth-tenant=__mimir_cluster"], "is reserved"),
    ],
)
def test_nested_sections_are_validated_at_startup(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(argv)
    assert message in str(info.value)


def test_embedded_log_lifts_the_ingestion_and_series_defaults_unless_set(tmp_path: Path) -> None:
    embedded = load([]).config.limits
    assert (embedded.ingestion_rate, embedded.max_global_series_per_user) == (math.inf, 0)
    kafka = load(["-ingest-storage.kafka.address=kafka:9092", "-target=distributor"]).config
    assert (kafka.limits.ingestion_rate, kafka.limits.ingestion_burst_size) == (10000, 200000)
    assert kafka.limits.max_global_series_per_user == 150_000
    flag = load(["-distributor.ingestion-rate-limit=50000"]).config.limits
    assert (flag.ingestion_rate, flag.ingestion_burst_size) == (50000, 200000)
    assert flag.max_global_series_per_user == 0
    f = tmp_path / "c.yaml"
    f.write_text("limits:\n  max_global_series_per_user: 150000\n")
    yml = load([f"-config.file={f}"]).config.limits
    assert (yml.ingestion_rate, yml.max_global_series_per_user) == (math.inf, 150000)
    assert load(["-ingest-storage.kafka.address=k:9092", "-target=distributor",
                 "-distributor.ingestion-rate-limit=inf"]).config.limits.ingestion_rate == math.inf
