"""Print a JUnit report's figures; with --no-skips, fail when any test was skipped."""

import sys
import xml.etree.ElementTree as ET


def main() -> int:
    path, label = sys.argv[1], sys.argv[2]
    no_skips = "--no-skips" in sys.argv[3:]
    root = ET.parse(path).getroot()  # noqa: S314 - our own pytest output
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    totals = {key: 0 for key in ("tests", "failures", "errors", "skipped")}
    for suite in suites:
        for key in totals:
            totals[key] += int(suite.get(key, 0))
    print(
        f"CI {label}: {totals['tests']} tests, {totals['failures']} failures, "
        f"{totals['errors']} errors, {totals['skipped']} skipped"
    )
    if no_skips and totals["skipped"]:
        for case in root.iter("testcase"):
            skipped = case.find("skipped")
            if skipped is not None:
                print(
                    f"  skipped: {case.get('classname')}.{case.get('name')}: "
                    f"{skipped.get('message')}"
                )
        print(f"CI {label}: tests were skipped where none may be", file=sys.stderr)
        return 1
    return 0 if totals["tests"] else 1


if __name__ == "__main__":
    sys.exit(main())
