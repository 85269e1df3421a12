"""Log in to a running Tandem with every demo account it printed; check the home page.

Usage: smoke_login.py BASE_URL MAKE_RUN_LOG
"""

import http.cookiejar
import re
import sys
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
    base, log = sys.argv[1], sys.argv[2]
    password, usernames = printed_accounts(log)
    assert len(usernames) >= 11, usernames
    for username in usernames:
        check(base, username, password)
        print(f"make run: {username} logged in, home page 200")
    print(f"make run: login page 200 and {len(usernames)} demo accounts OK at {base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
