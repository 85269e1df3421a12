"""CPU per login of the password hashers Tandem could store with (README, "Passwords").

    .venv/bin/python -m bench.hashing [--repeat 5]

One password checked against its stored hash, as a login does, with PBKDF2-SHA256 at
Django's default and at OWASP's iterations, and Argon2id at OWASP's parameters
(workflow/hashers.py). CPU time (time.process_time), so the figure does not depend
on what else the machine is doing.
"""

import argparse
import os
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django

django.setup()

from django.contrib.auth.hashers import (  # noqa: E402
    PBKDF2PasswordHasher,
    check_password,
    make_password,
)

from workflow.hashers import OwaspArgon2idHasher  # noqa: E402


class OwaspPbkdf2Hasher(PBKDF2PasswordHasher):
    iterations = 600_000


def cpu_ms(hasher, repeat: int) -> float:
    stored = make_password("une phrase de passe de démonstration", hasher=hasher)
    started = time.process_time()
    for _ in range(repeat):
        check_password("une phrase de passe de démonstration", stored)
    return (time.process_time() - started) * 1000 / repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "workflow.hashers.OwaspArgon2idHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "bench.hashing.OwaspPbkdf2Hasher",
    ]
    rows = [
        (
            f"PBKDF2-SHA256, {PBKDF2PasswordHasher.iterations:,} iterations (Django)",
            PBKDF2PasswordHasher(),
        ),
        ("PBKDF2-SHA256, 600,000 iterations (OWASP)", OwaspPbkdf2Hasher()),
        ("Argon2id, m=19 MiB, t=2, p=1 (OWASP; Tandem)", OwaspArgon2idHasher()),
    ]
    for label, hasher in rows:
        print(f"{label:50s} {cpu_ms(hasher, repeat):7.1f} ms CPU per login")


if __name__ == "__main__":
    main()
