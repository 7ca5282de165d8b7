"""What the Python SDK scripts share: the steps they took, and how they end (one JSON summary line
on stdout; a non-zero exit on the first failure)."""

import json
import sys

steps = []


def fail(message):
    print(json.dumps({"ok": False, "steps": steps, "error": message}))
    sys.exit(1)


def step(name, run):
    """Runs `run`, recording `name`; any exception (the SDK's own included) fails the script."""
    try:
        value = run()
    except Exception as error:
        fail(f"{name}: {type(error).__name__}: {error}")
    steps.append(name)
    return value


def done(**summary):
    print(json.dumps({"ok": True, "steps": steps, **summary}))
