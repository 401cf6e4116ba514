"""The docs' tests import the scripts that generate and check the docs, from ``scripts/``."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
