"""Log in to a running Tandem with every demo account it printed; check the home page.

Then submit a needs expression and wait for its e-mail in the embedded mail folder.

Usage: smoke_login.py BASE_URL MAKE_RUN_LOG MAIL_FOLDER
"""

import http.cookiejar
import pathlib
import re
import sys
import time
import urllib.parse
import urllib.request


def printed_accounts(log: str) -> tuple[str, list[str]]:
    """The password and usernames `make run` printed."""
    text = open(log, encoding="utf-8").read()  # noqa: SIM115
    head = re.search(r"Comptes de démonstration \(mot de passe : (\S+)\)\n", text)
    usernames = []
    for line in text[head.end() :].splitlines():
        if not line.startswith("  "):
            break
        usernames.append(line.split()[0])
    return head.group(1), usernames


def logged_in(base: str, username: str, password: str):
    """An opener holding the session of `username`."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    opener.open(
        urllib.request.Request(
            f"{base}/accounts/login/",
            data=data,
            headers={"Referer": f"{base}/accounts/login/"},
        )
    )
    return opener


def post_form(opener, base: str, path: str, fields: list[tuple[str, str]]):
    page = opener.open(f"{base}{path}").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode([*fields, ("csrfmiddlewaretoken", token)]).encode()
    return opener.open(
        urllib.request.Request(
            f"{base}{path}", data=data, headers={"Referer": f"{base}{path}"}
        )
    )


def submission_reaches_the_mail_folder(base: str, password: str, maildir: str) -> None:
    """A needs expression submitted over HTTP is mailed by the embedded worker."""
    opener = logged_in(base, "cd23.porteur", password)
    title = f"Smoke {time.time_ns()}"
    created = post_form(
        opener,
        base,
        "/evolutions/nouvelle/",
        [
            ("title", title),
            ("kind", "technique"),
            ("data_flows", "DSG"),
            ("description", "Vérification de bout en bout"),
        ],
    )
    detail = created.url
    reference = re.search(r"EVO-23-\d{4}-\d{4}", created.read().decode()).group(0)
    submit_path = urllib.parse.urlsplit(detail).path + "soumettre/"
    page = opener.open(detail).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    opener.open(
        urllib.request.Request(
            f"{base}{submit_path}",
            data=urllib.parse.urlencode({"csrfmiddlewaretoken": token}).encode(),
            headers={"Referer": detail},
        )
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for path in pathlib.Path(maildir).glob("*.log"):
            if reference in path.read_text(errors="replace"):
                print(f"make run: {reference} submitted, its message is in {path}")
                return
        time.sleep(1)
    raise SystemExit(f"no message for {reference} in {maildir} after 60 s")


def check(base: str, username: str, password: str) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/accounts/login/").read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"username": username, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        f"{base}/accounts/login/",
        data=data,
        headers={"Referer": f"{base}/accounts/login/"},
    )
    response = opener.open(request)  # follows the redirect to the home page
    home = response.read().decode()
    assert response.status == 200 and response.url == f"{base}/", (
        username,
        response.url,
    )
    assert "Vos organismes et vos rôles" in home, username


def main() -> int:
    base, log, maildir = sys.argv[1], sys.argv[2], sys.argv[3]
    password, usernames = printed_accounts(log)
    assert len(usernames) >= 11, usernames
    for username in usernames:
        check(base, username, password)
        print(f"make run: {username} logged in, home page 200")
    print(f"make run: login page 200 and {len(usernames)} demo accounts OK at {base}")
    submission_reaches_the_mail_folder(base, password, maildir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
