"""Exit codes of command-line mistakes and of a port that is already taken."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from recsys.cli import main

_EXIT_FAILURE = 1
_EXIT_USAGE = 2


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield int(listener.getsockname()[1])


def test_serve_on_a_taken_port_exits_1(
    tmp_path: Path, taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        code = main(["--home", str(tmp_path), "serve", "--port", str(taken_port)])

    assert code == _EXIT_FAILURE
    assert f"cannot listen on 127.0.0.1:{taken_port}" in caplog.text
    assert "another --port" in caplog.text


def test_quickstart_checks_the_port_before_any_work(
    tmp_path: Path, hm_slice: Path, taken_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    home = tmp_path / "home"
    with caplog.at_level(logging.ERROR):
        code = main(
            ["--home", str(home), "quickstart", "--data", str(hm_slice), "--port", str(taken_port)]
        )

    assert code == _EXIT_FAILURE
    assert "--no-serve" in caplog.text
    assert not (home / "milliner.db").exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "classifier"], "pass --data DIR"),
        (["train", "classifier", "--data", "x", "--views", "-1"], "--views must be at least 0"),
        (
            ["train", "classifier", "--data", "x", "--other-photos", "0"],
            "--other-photos must be at least 1",
        ),
    ],
)
def test_train_classifier_usage_errors_exit_2(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, arguments: list[str], message: str
) -> None:
    with caplog.at_level(logging.ERROR):
        code = main(["--home", str(tmp_path), *arguments])

    assert code == _EXIT_USAGE
    assert message in caplog.text


@pytest.mark.parametrize(
    ("with_classifier", "expected"),
    [(True, "trained classifier's style embedding"), (False, "uses ImageNet features")],
)
def test_quickstart_hint_follows_classifier(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, with_classifier: bool, expected: str
) -> None:
    from recsys.cli import _print_quickstart
    from recsys.pipeline import QuickstartResult

    result = QuickstartResult(
        report_html=tmp_path / "report.html",
        report_json=tmp_path / "report.json",
        example_customer=None,
        example_item=None,
        with_classifier=with_classifier,
    )

    _print_quickstart(result, "127.0.0.1", 8000, serving=False)

    assert expected in capsys.readouterr().out
