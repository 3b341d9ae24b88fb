"""Fixtures of the batch tests: one local Ray for a module."""

from __future__ import annotations

import shutil
import tempfile

import pytest


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the whole module (2 CPUs, bound to 127.0.0.1, its own temporary folder):
    ``medpic.batch.run`` uses a Ray that is already initialised and leaves it running."""
    import ray

    temp = tempfile.mkdtemp(prefix="mpray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    ray.init(address="local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp,
             log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
