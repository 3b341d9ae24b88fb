from pathlib import Path

import pytest

from medpic.errors import InvalidInput
from medpic.settings import Settings


def test_defaults_use_the_bundled_model_and_no_hub():
    s = Settings.from_env({})
    assert s.model_repo is None and s.model_dir is None
    assert (s.bundled_model_dir / "config.json").is_file()


def test_environment_is_parsed_once_with_types():
    s = Settings.from_env({
        "MEDPIC_MODEL_DIR": "/tmp/m", "MEDPIC_MODEL_REPO": "org/model", "MEDPIC_MODEL_REVISION": "v2",
        "HF_HUB_OFFLINE": "yes", "MEDPIC_BATCH_SIZE": "8", "MEDPIC_MAX_PIXELS": "1_000_000",
        "MEDPIC_THRESHOLD": "0.7", "MEDPIC_BATCH_DECODE": " Tasks",
    })
    assert s.model_dir == Path("/tmp/m") and s.model_repo == "org/model" and s.model_revision == "v2"
    assert s.hf_offline is True and s.batch_size == 8 and s.max_pixels == 1_000_000 and s.threshold == 0.7
    assert s.batch_decode == "tasks" and Settings.from_env({}).batch_decode == "auto"


@pytest.mark.parametrize("env,name", [
    ({"HF_HUB_OFFLINE": "maybe"}, "HF_HUB_OFFLINE"),
    ({"MEDPIC_BATCH_SIZE": "many"}, "MEDPIC_BATCH_SIZE"),
    ({"MEDPIC_BATCH_SIZE": "0"}, "MEDPIC_BATCH_SIZE"),
    ({"MEDPIC_THRESHOLD": "1.5"}, "MEDPIC_THRESHOLD"),
    ({"MEDPIC_BATCH_DECODE": "gpu"}, "MEDPIC_BATCH_DECODE"),
])
def test_bad_values_name_the_variable(env, name):
    with pytest.raises(InvalidInput, match=name):
        Settings.from_env(env)
