"""The progress bar as a terminal shows it: the CLI runs with stderr on a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from groove_async.testing import FaultPlan

from .conftest import ROOT, TOKEN, ThreadedEmulator, catalog_ids, cli_command, cli_env, write_ids


def run_on_a_terminal(*args: str, token: str = TOKEN) -> tuple[int, str, str]:
    """Run the CLI with stderr on a 100x30 pty; return (status, stdout, what the pty showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(  # noqa: S603 -- our own interpreter and package
        cli_command(*args),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=cli_env(token),
        cwd=ROOT,
    )
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child's side is closed
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        status = process.wait(timeout=10)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return status, stdout, shown.decode("utf-8", "replace")


def test_progress_bar_on_a_terminal(emulator: ThreadedEmulator, tmp_path: Path) -> None:
    emulator.set_faults(FaultPlan(latency=0.02))
    source = write_ids(tmp_path / "ids.txt", catalog_ids(2_000))

    status, stdout, shown = run_on_a_terminal(
        "add", str(source), "--base-url", emulator.url, "--concurrency", "4"
    )

    assert status == 0, shown
    # tqdm's bar, redrawn in place, with the rate and the final count.
    assert "\r" in shown
    assert "add: 100%|" in shown and "2000/2000" in shown and "IDs/s" in shown
    assert "%|" in shown.split("100%|")[0]  # frames before the end were drawn too
    # The status line with the counts under it.
    assert "succeeded 2,000 | rejected 0 | failed 0 | retries 0 | throttled 0" in shown
    assert TOKEN not in shown + stdout
    assert stdout.startswith("groove-async add: 2,000 IDs")


def test_demo_on_a_terminal_is_the_readme_first_command() -> None:
    status, stdout, shown = run_on_a_terminal("demo", "--size", "3000", "--faults")

    assert status == 0, shown
    assert "add: 100%|" in shown and "3000/3000" in shown and "IDs/s" in shown
    assert "Embedded Groove emulator at http://127.0.0.1:" in stdout
    assert "Demo OK" in stdout
