import os

# The test oracle is Keras 3 on its numpy backend; set before keras is imported.
os.environ.setdefault("KERAS_BACKEND", "numpy")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true",
                     help="also run the tests marked slow (e.g. a second, serial build of "
                          "fastmask: minutes on 2 cores); CI passes it")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    import pytest
    skip = pytest.mark.skip(reason="slow (rebuilds fastmask, 3-6 min on 2 cores): "
                                   "pass --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
