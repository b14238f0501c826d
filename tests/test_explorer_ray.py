"""`explore --ray`: candidate evaluations as Ray tasks on a local Ray instance started here give the same record
as local worker processes. Skipped only where Ray is not installed and CI is not set (pip install -e '.[ray]')."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import IN_CI
from tests.test_explorer import ConstantsOnly, cfg, strip_times
from ttsc.explorer import loop

if importlib.util.find_spec("ray") is None and not IN_CI:
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)


@pytest.fixture(scope="module")
def local_ray():
    import ray
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_ray_tasks_give_the_same_record_as_local_workers(tmp_path, local_ray):
    local = loop.search(cfg(workers=2), tmp_path / "local", loop.evolve_proposer(ConstantsOnly()), budget_candidates=4)
    on_ray = loop.search(cfg(workers=2), tmp_path / "ray", loop.evolve_proposer(ConstantsOnly()), budget_candidates=4,
                         ray_address=local_ray)
    assert sum(r["status"] == "scored" for r in on_ray.records) >= 2
    assert strip_times(on_ray.records) == strip_times(local.records)
