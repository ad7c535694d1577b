"""Read a subunit v2 stream on stdin, print one JSON list of the tests' results on stdout.

Run by the Tempest venv's interpreter (python-subunit and testtools are Tempest's dependencies, not
Cumulo's), so it imports nothing of Cumulo. Each result: ``{"id", "status", "reason", "duration"}``;
``reason`` is one line: a skip's reason, or the last exception line of a failure's traceback.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

EXCEPTION_LINE = re.compile(r"[A-Za-z_][\w.]*(: |:?$)")


def _texts(details: dict[str, Any]) -> dict[str, str]:
    """A test's attachments (testtools ``Content``) as text."""
    texts = {}
    for name, content in details.items():
        try:
            texts[name] = b"".join(bytes(chunk) for chunk in content.iter_bytes()).decode("utf-8", "replace")
        except (AttributeError, ValueError, OSError):  # an attachment that cannot be read says nothing useful
            continue
    return texts


def reason_of(texts: dict[str, str], status: str) -> str:
    """One line: a skip's reason, or a failure's exception line and the ``Details:`` Tempest adds to it."""
    if status == "skip":
        return " ".join(texts.get("reason", "").split())[:300]
    trace = texts.get("traceback", "")
    lines = [line.rstrip() for line in trace.splitlines() if line.strip()]
    # The exception line is the last one that starts with a class name ("jsonschema...ValidationError: ...",
    # not an indented frame nor a schema dump's "On instance[...]:"); Tempest's "Details: ..." and
    # jsonschema's "Failed validating ..." follow it.
    for i in range(len(lines) - 1, -1, -1):
        if EXCEPTION_LINE.match(lines[i]) and not lines[i].startswith("Details:"):
            words = [lines[i]]
            if i + 1 < len(lines) and lines[i + 1].startswith(("Details:", "Failed validating")):
                words.append(lines[i + 1])
            return " ".join(" ".join(words).split())[:400]
    return " ".join((lines[-1] if lines else "").split())[:400]


def main() -> int:
    import subunit  # type: ignore[import-not-found]  # the Tempest venv has them, Cumulo's has not
    import testtools  # type: ignore[import-not-found]

    results: list[dict[str, Any]] = []

    def on_test(test: dict[str, Any]) -> None:
        status = test["status"]
        if status in ("exists", "inprogress"):
            return
        start, stop = test["timestamps"]
        duration = (stop - start).total_seconds() if start and stop else 0.0
        results.append({"id": test["id"], "status": status, "reason": reason_of(_texts(test["details"]), status),
                        "duration": round(duration, 3)})

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
