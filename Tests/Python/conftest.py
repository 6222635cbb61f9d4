# The Python files of the repository tested as Python (make test-python): the sandbox's fork-server, imported as a
# module from where the Swift build embeds it, and the numpy reference of the tiny-checkpoint tests.
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "Sources", "Sandbox", "Resources"))
