"""The stall scenario's other process: report_submit of one draft bilan, again and
again, each time in a transaction rolled back (the bilan stays a draft, its stored
PDF is deleted), for a number of seconds; prints the count and durations as JSON.

    python -m bench.load_submit --report PK --username cd23.porteur --seconds 30

Like a real submission it holds, until its transaction ends, the row locks and
the audit journal's append lock it takes while it writes the transition and
builds the PDF. Run with the server's environment (bench.load does), so that the
journal's key and the private storage are the server's.
"""

import argparse
import json
import os
import time


class _Undo(Exception):
    """Rolls the submission back."""


def submit_repeatedly(*, report: int, username: str, seconds: float) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from recette.services.report import report_submit

    by = get_user_model().objects.get(username=username)
    print("ready", flush=True)
    durations = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        document = None
        try:
            with transaction.atomic():
                agreement = report_submit(pk=report, by=by)
                document = agreement.report_document
                raise _Undo
        except _Undo:
            pass
        durations.append((time.perf_counter() - started) * 1000)
        if document:
            document.storage.delete(document.name)
    return {"submits": len(durations), "ms": [round(d, 2) for d in durations]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=int, required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    import django

    django.setup()
    outcome = submit_repeatedly(
        report=args.report, username=args.username, seconds=args.seconds
    )
    print(json.dumps(outcome))


if __name__ == "__main__":
    main()
