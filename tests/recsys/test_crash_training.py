"""`kill -9` during ranker training and publishing: the previous version keeps serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from catalog.settings import Settings
from recsys.doctor import check_data_directory
from recsys.pipeline import QuickstartResult
from recsys.ranker import RankerModel
from tests.recsys.api_support import copy_home

REPO_ROOT = Path(__file__).resolve().parents[2]
MILLINER = [sys.executable, "-m", "recsys.cli"]
# Far more epochs than the kill lets run: the process is still training when killed.
EPOCHS = 1_000_000
STARTUP_TIMEOUT_S = 120


@pytest.fixture
def home(pipeline_settings: Settings, pipeline_run: QuickstartResult, tmp_path: Path) -> Settings:
    return copy_home(pipeline_settings, tmp_path / "home")


def _current_version(root: Path) -> str:
    return (root / "CURRENT").read_text(encoding="utf-8").strip()


def _environment(home: Settings) -> dict[str, str]:
    environment = dict(os.environ)
    environment["MILLINER_HOME"] = str(home.home)
    environment.pop("MILLINER_DATABASE_URL", None)
    return environment


def _kill_when_training(home: Settings) -> bytes:
    """Start `milliner train`, SIGKILL it once a progress bar moves; return its stderr.

    The first bar is that of the ranker trained to tune the blend weights,
    so the kill may land there or in the final training. Both must leave the
    previous version serving.
    """
    process = subprocess.Popen(
        [*MILLINER, "train", "--epochs", str(EPOCHS), "--threads", "1"],
        cwd=REPO_ROOT,
        env=_environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    os.set_blocking(process.stderr.fileno(), False)
    output = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while b"train:" not in output and time.monotonic() < deadline:
            if process.poll() is not None:
                break
            output += process.stderr.read() or b""
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        output += process.stderr.read() or b""
        process.stderr.close()
    return output


@pytest.mark.slow
def test_kill_during_training_keeps_previous(home: Settings) -> None:
    ranker_root = home.models_dir / "ranker"
    before = _current_version(ranker_root)
    output = _kill_when_training(home)

    assert b"train:" in output, output.decode(errors="replace")[-2000:]
    assert _current_version(ranker_root) == before
    assert RankerModel.load(ranker_root).item_ids
    report = check_data_directory(home, fix=True)
    assert report.ok, report.findings
    assert check_data_directory(home).ok

    rerun = subprocess.run(
        [*MILLINER, "--no-progress", "train", "--epochs", "2", "--components", "8"],
        cwd=REPO_ROOT,
        env=_environment(home),
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr.decode(errors="replace")[-2000:]
    assert _current_version(ranker_root) != before
    assert check_data_directory(home).ok


# Each snippet loads the current ranker and publishes it again, sending
# itself SIGKILL at one point of the publication.
_KILL_SNIPPETS = {
    "while_staging": """
        import recsys.ranker as ranker_module
        write = ranker_module.write_json_atomic
        def write_then_die(path, data):
            write(path, data)
            if path.name == "ids.json":
                os.kill(os.getpid(), signal.SIGKILL)
        ranker_module.write_json_atomic = write_then_die
    """,
    "before_pointer": """
        import classifier.publish as publish
        replace = publish.os.replace
        class PatchedOs:
            def __getattr__(self, name):
                return getattr(os, name)
            def replace(self, source, target):
                if Path(target).name == "CURRENT":
                    os.kill(os.getpid(), signal.SIGKILL)
                replace(source, target)
        publish.os = PatchedOs()
    """,
}


@pytest.mark.parametrize("moment", sorted(_KILL_SNIPPETS))
def test_kill_during_publishing_keeps_previous(home: Settings, moment: str) -> None:
    ranker_root = home.models_dir / "ranker"
    before = _current_version(ranker_root)
    script = (
        "import os, signal, sys\nfrom pathlib import Path\n"
        + textwrap.dedent(_KILL_SNIPPETS[moment])
        + "from recsys.ranker import RankerModel\n"
        + "root = Path(sys.argv[1])\nRankerModel.load(root).save(root)\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script, str(ranker_root)],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
        check=False,
    )

    assert process.returncode == -signal.SIGKILL, process.stderr.decode(errors="replace")
    assert _current_version(ranker_root) == before
    assert RankerModel.load(ranker_root).item_ids
    assert not check_data_directory(home).ok
    assert check_data_directory(home, fix=True).ok
    assert check_data_directory(home).ok

    RankerModel.load(ranker_root).save(ranker_root)
    assert _current_version(ranker_root) != before
    assert check_data_directory(home).ok
