"""The queue trigger's settings: defaults, parsing from the config file and environment, and their limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from testsupport import isolated_settings

from backend.config import ConfigError, check_settings, load_settings


def test_defaults_are_the_queue_trigger_and_a_batch_of_ten(tmp_path: Path) -> None:
    s = isolated_settings(tmp_path)
    assert (s.trigger, s.queue_batch_size, s.queue_batch_window_s, s.queue_max_receives) == ("queue", 10, 0, 3)
    assert s.queue_visibility_timeout_s == 0
    assert s.queue_visibility_timeout == 6 * s.lambda_timeout_s == 360


def test_settings_come_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[csvdrop]\ntrigger = "queue"\nqueue_batch_size = 5\nqueue_visibility_timeout_s = 90\n')
    s = load_settings(env={"CSVDROP_QUEUE_MAX_RECEIVES": "5"}, config_path=config)
    assert (s.trigger, s.queue_batch_size, s.queue_max_receives, s.queue_visibility_timeout) == ("queue", 5, 5, 90)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("trigger", "sqs", "'direct' (S3 invokes the function) or 'queue'"),
        ("queue_batch_size", "0", "from 1 to 10000 (messages per invocation), got 0"),
        ("queue_batch_size", "ten", "must be a whole number, got 'ten'"),
        ("queue_batch_window_s", "301", "from 0 to 300"),
        ("queue_max_receives", "0", "attempts before a message goes to the dead-letter queue"),
        ("queue_visibility_timeout_s", "-1", "from 0 to 43200"),
    ],
)
def test_a_value_out_of_range_names_the_setting_and_its_limits(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={f"CSVDROP_{name.upper()}": value})
    assert name in str(caught.value) and says in str(caught.value)


def test_more_than_ten_messages_need_a_batching_window(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="needs 'queue_batch_window_s' of at least 1"):
        isolated_settings(tmp_path, queue_batch_size="100")
    s = isolated_settings(tmp_path, queue_batch_size="100", queue_batch_window_s="2")
    assert (s.queue_batch_size, s.queue_batch_window_s) == (100, 2)


def test_the_visibility_timeout_cannot_be_shorter_than_the_function_timeout(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'queue_visibility_timeout_s' \(30 s\) is shorter than 'lambda_timeout_s'"):
        isolated_settings(tmp_path, queue_visibility_timeout_s="30", lambda_timeout_s="60")
    assert isolated_settings(tmp_path, queue_visibility_timeout_s="60").queue_visibility_timeout == 60


def test_settings_changed_in_code_meet_the_same_limits(tmp_path: Path) -> None:
    s = isolated_settings(tmp_path)
    with pytest.raises(ConfigError, match="'queue_max_receives' must be from 1"):
        check_settings(s.replace(queue_max_receives=0))
    with pytest.raises(ConfigError, match="setting 'trigger'"):
        check_settings(s.replace(trigger="lambda"))
    assert check_settings(s.replace(trigger="queue")).trigger == "queue"
