"""framework_output.to_file: C-level and child-process output goes to the log, print() stays."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from speech2video_cli import framework_output


def test_descriptor_writes_go_to_the_log_and_print_to_the_terminal(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    log = tmp_path / "logs" / "x.log"
    script.write_text(
        "import os, subprocess, sys\n"
        "from pathlib import Path\n"
        "from speech2video_cli import framework_output\n"
        f"with framework_output.to_file(Path({str(log)!r})) as terminal:\n"
        "    print('mine, out', file=terminal.out)\n"
        "    print('mine, err', file=terminal.err)\n"
        "    print('a library prints')\n"
        "    os.write(1, b'lib out\\n'); os.write(2, b'lib err\\n')\n"
        "    subprocess.run([sys.executable, '-c', 'print(\"child\")'], check=True)\n"
        "print('after')\n"
        "os.write(2, b'after err\\n')\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["mine, out", "after"]
    assert proc.stderr.splitlines() == ["mine, err", "after err"]
    assert sorted(log.read_text().splitlines()) == [
        "a library prints",
        "child",
        "lib err",
        "lib out",
    ]


def test_log_paths_are_under_s2v_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("S2V_HOME", str(tmp_path))
    path = framework_output.log_path("demo")
    assert path.parent == tmp_path / "logs" and path.name.startswith("demo-")
    assert os.path.splitext(path.name)[1] == ".log"
