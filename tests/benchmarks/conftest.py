"""Benchmarks measure the machine as a reader would use it: every core, not the unit
tests' one thread."""

from __future__ import annotations

import os

import torch

# tests/conftest.py limits torch to one thread for the tiny unit-test models; undo it
# here.
torch.set_num_threads(len(os.sched_getaffinity(0)))
