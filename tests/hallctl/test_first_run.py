"""A first `hall up` on a brand-new data folder says nothing that reads like a fault."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_a_first_run_on_a_new_data_folder_warns_of_nothing(tmp_path):
    # at night or at a weekend the simulated terminals play the latest workday, which the hub's clock has already
    # passed: that must not read as terminals gone silent
    proc = subprocess.run([sys.executable, "-m", "hallctl.cli", "up", "--headless", "--duration", "20",
                           "--data", str(tmp_path / "new")], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "DISPLAY": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr
    alarming = [line for line in said.splitlines() if " WARNING " in line or " ERROR " in line]
    assert alarming == [], "\n".join(alarming)
    assert "rejected 0" in said
