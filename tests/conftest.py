"""Test set-up shared by every folder: the offscreen Qt platform, isolated settings and data folders."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Never read or write the user's studio settings, recovery copies or run history from tests.
_isolated = tempfile.mkdtemp(prefix="tea-studio-tests-")
os.environ.setdefault("TEA_STUDIO_CONFIG_DIR", os.path.join(_isolated, "config"))
os.environ.setdefault("TEA_STUDIO_DATA_DIR", os.path.join(_isolated, "data"))
