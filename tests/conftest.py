import os

# The test oracle is Keras 3 on its numpy backend; set before keras is imported.
os.environ.setdefault("KERAS_BACKEND", "numpy")

from hypothesis import settings  # noqa: E402

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("long", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
