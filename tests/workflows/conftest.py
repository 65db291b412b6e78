"""Workflow tests: workflow files as data, linters, and act end-to-end runs.

The test folder is put on sys.path so that `act_harness` and `workflow_files` import.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
