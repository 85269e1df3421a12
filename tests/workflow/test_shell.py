import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils.html import escape

from contacts.models import Organisation
from workflow.demo import DEMO_ACCOUNTS


def test_login_page_is_served_in_french(client):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert response["Content-Language"] == "fr"
    assert "Se connecter" in response.content.decode()


@pytest.mark.parametrize("account", DEMO_ACCOUNTS, ids=lambda a: a.username)
def test_every_demo_account_logs_in_and_sees_its_organisation_and_role(
    world, client, account
):
    response = client.post(
        reverse("login"),
        {"username": account.username, "password": world.password},
        follow=True,
    )

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    organisation = Organisation.objects.get(code=account.organisation_code)
    assert escape(str(organisation)) in page
    assert str(account.role.label) in page


def test_wrong_password_is_refused_in_french(world, client):
    response = client.post(
        reverse("login"), {"username": "cd23.porteur", "password": "mauvais"}
    )

    assert response.status_code == 200
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in (
        response.content.decode()
    )


def test_home_requires_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_user_without_role_is_told_to_ask_for_one(db, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("nouveau"))

    response = client.get("/")

    assert "Aucun rôle ne vous a encore été attribué" in response.content.decode()


def test_english_is_available_on_request(world, client):
    client.force_login(world.user("cd23.porteur"))

    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    response = client.get("/")

    assert response["Content-Language"] == "en"
    assert "Your organisations and your roles" in response.content.decode()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_each_language_is_offered_under_its_own_name(world, client, language):
    client.force_login(world.user("cd23.porteur"))
    client.post(reverse("set_language"), {"language": language, "next": "/"})

    page = client.get("/").content.decode()

    assert '<option value="fr" lang="fr"' in page and ">Français</option>" in page
    assert '<option value="en" lang="en"' in page and ">English</option>" in page
    assert "Anglais" not in page and "French<" not in page


def test_browser_language_does_not_override_french(world, client):
    client.force_login(world.user("cd23.porteur"))

    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response["Content-Language"] == "fr"


def test_administrator_maintains_reference_data_in_the_admin(world, client):
    client.force_login(world.user("cnaf.admin"))

    assert (
        client.get(reverse("admin:contacts_organisation_changelist")).status_code == 200
    )
    assert (
        client.get(reverse("admin:contacts_supporthours_changelist")).status_code == 200
    )


def test_client_user_cannot_enter_the_admin(world, client):
    client.force_login(world.user("cd23.dsi"))

    response = client.get(reverse("admin:contacts_organisation_changelist"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_administrator_sees_the_background_worker_pulse(world, client):
    from workflow.tasks import heartbeat

    heartbeat.apply()
    client.force_login(world.user("cnaf.admin"))
    assert "Traitements en arrière-plan" in client.get("/").content.decode()

    client.force_login(world.user("cnaf.dsi"))
    assert "Traitements en arrière-plan" not in client.get("/").content.decode()


def test_logout_returns_to_the_login_page(world, client):
    client.force_login(world.user("cd57.dsi"))

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    assert client.get("/").status_code == 302


# Tandem's own shell (templates/tandem/page.html, issue 16): its landmarks, menu,
# account area, titles and forms, read from the HTML as the test client gets it.

SHELL_TEMPLATE = "tandem/page.html"
MATERIAL_CLASS = re.compile(r"""class="[^"]*(?<![\w-])(mdc-|vf-)""")
MATERIAL_ELEMENT = re.compile(r"<vf-[a-z-]+")
ROOT = Path(__file__).resolve().parents[2]


class Node:
    """An element of a parsed page: tag, attributes, children (text as str)."""

    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def elements(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.elements()

    def find_all(self, tag: str | None = None, **attrs) -> list:
        return [
            e
            for e in self.elements()
            if (tag is None or e.tag == tag)
            and all(
                e.attrs.get(k.rstrip("_").replace("_", "-")) == v
                for k, v in attrs.items()
            )
        ]

    def find(self, tag: str | None = None, **attrs):
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]

    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


VOID = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(
            tag, {k: (v if v is not None else "") for k, v in attrs}, self.current
        )
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(
            Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.current)
        )

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(response) -> Node:
    builder = _Builder()
    builder.feed(response.content.decode())
    return builder.root


def menu_of(page: Node) -> list[tuple[str, str]]:
    nav = page.find("nav", aria_label="Menu principal")
    items = nav.find("ul").find_all("li")
    links = [item.find("a") for item in items]
    return [(link.text(), link.attrs["href"]) for link in links]


def test_skip_link_is_the_first_thing_in_the_body_and_leads_to_the_one_main(
    world, client
):
    client.force_login(world.user("cd23.porteur"))

    page = parse(client.get("/"))

    body = page.find("body")
    first = next(body.elements())
    assert first.tag == "a"
    assert first.attrs["href"] == "#contenu"
    assert first.text() == "Aller au contenu"
    main = page.find("main")
    assert main.attrs["id"] == "contenu"
    assert main.attrs["tabindex"] == "-1"
    assert main.find("h1").text() == "Mes tâches"
    assert page.find("html").attrs["lang"] == "fr"
    assert len(page.find_all("header")) == len(page.find_all("footer")) == 1


@pytest.mark.parametrize("username", ["cd23.porteur", "cnaf.commande"])
def test_the_menu_is_a_list_of_links_in_order(world, client, username):
    client.force_login(world.user(username))

    page = parse(client.get(reverse("evolutions:index")))

    assert menu_of(page) == [
        ("Mes tâches", "/"),
        ("Demandes d'évolution", "/evolutions/"),
        ("Versions", "/evolutions/versions/"),
        ("Recettes", "/recettes/"),
        ("Incidents", "/incidents/"),
        ("Annuaire", "/annuaire/"),
        ("Notifications", "/notifications/"),
    ]
    nav = page.find("nav", aria_label="Menu principal")
    assert [a.attrs["href"] for a in nav.find_all("a", aria_current="page")] == [
        "/evolutions/"
    ]


def test_the_current_section_and_page_are_marked(world, client):
    client.force_login(world.user("cd23.porteur"))

    home = parse(client.get("/")).find("nav", aria_label="Menu principal")
    directory = parse(client.get(reverse("annuaire:organisation", args=["23"])))

    assert home.find("a", aria_current="page").attrs["href"] == "/"
    nav = directory.find("nav", aria_label="Menu principal")
    assert nav.find_all("a", aria_current="page") == []
    assert nav.find("a", aria_current="true").attrs["href"] == "/annuaire/"


def test_a_page_below_two_entries_belongs_to_the_deeper_one(world, client):
    client.force_login(world.user("cd23.porteur"))

    roadmap = parse(client.get(reverse("evolutions:roadmap")))
    request = parse(client.get(reverse("evolutions:index") + "?page=1"))

    nav = roadmap.find("nav", aria_label="Menu principal")
    assert [a.attrs["href"] for a in nav.find_all("a", aria_current="page")] == [
        "/evolutions/versions/"
    ]
    assert nav.find_all("a", aria_current="true") == []
    nav = request.find("nav", aria_label="Menu principal")
    assert [a.attrs["href"] for a in nav.find_all("a", aria_current="page")] == [
        "/evolutions/"
    ]


def test_the_menu_entries_of_process_apps_come_from_their_registration():
    from workflow import shell

    assert [url for _label, url in shell.menu_entries()] == [
        "evolutions:index",
        "evolutions:roadmap",
        "recettes:index",
        "incidents:index",
    ]
    with pytest.raises(ValueError, match="déjà déclarée"):
        shell.register_menu_entry("Recettes", "recettes:index")


def test_a_user_without_membership_has_no_directory_entry(
    db, client, django_user_model
):
    client.force_login(django_user_model.objects.create_user("nouveau"))

    labels = [label for label, _url in menu_of(parse(client.get("/")))]

    assert "Annuaire" not in labels
    assert labels[0] == "Mes tâches" and labels[-1] == "Notifications"


def test_notifications_entry_counts_the_unread_ones(world, client):
    from workflow.models import Notification

    user = world.user("cd23.porteur")
    Notification.objects.filter(recipient_user=user).delete()
    client.force_login(user)
    assert menu_of(parse(client.get("/")))[-1][0] == "Notifications"

    for n in range(3):
        Notification.objects.create(
            recipient_user=user,
            organisation=world.creuse,
            subject=f"Message {n}",
            event=f"test:{n}",
            kind="test",
            recipient_email=user.email or "porteur@example.fr",
            body_text="…",
            body_html="…",
        )
    entry = parse(client.get("/")).find("a", href="/notifications/")

    assert entry.text() == "Notifications 3 non lues"
    assert (
        "tandem-visually-hidden"
        in entry.find("span", **{"class": "tandem-visually-hidden"}).classes()
    )


def test_the_account_area_names_the_user_and_logs_out_with_a_post(world, client):
    user = world.user("cd23.porteur")
    client.force_login(user)

    page = parse(client.get("/"))

    header = page.find("header")
    assert user.get_full_name() and user.get_full_name() in header.text()
    assert header.find("a", href=reverse("second_factor")).text() == (
        "Double authentification"
    )
    assert header.find("a", href=reverse("password_change")).text() == (
        "Changer de mot de passe"
    )
    form = header.find("form", action=reverse("logout"))
    assert form.attrs["method"] == "post"
    assert form.find("input", name="csrfmiddlewaretoken")
    assert form.find("button", type="submit").text() == "Se déconnecter"
    # The menu folds behind a disclosure button on narrow screens.
    button = header.find("button", type="button")
    assert button.text() == "Menu"
    assert button.attrs["aria-expanded"] == "false"
    assert header.find(id=button.attrs["aria-controls"])


def test_logged_out_pages_have_the_shell_without_menu_nor_account(client):
    page = parse(client.get(reverse("login")))

    assert page.find("header").find("a").text() == "Tandem"
    assert page.find_all("nav") == []
    assert page.find_all("form", action=reverse("logout")) == []
    assert page.find("main").attrs["id"] == "contenu"
    assert page.find("a", href=reverse("password_reset")).text() == (
        "Mot de passe oublié ?"
    )


def test_the_shell_loads_its_own_files_only(world, client):
    client.force_login(world.user("cd23.porteur"))

    response = client.get("/")
    page = parse(response)

    head = page.find("head")
    assert [s.attrs["src"] for s in head.find_all("script")] == [
        "/static/tandem/shell.js"
    ]
    assert [link.attrs["href"] for link in head.find_all("link", rel="stylesheet")] == [
        "/static/tandem/tandem.css"
    ]
    assert page.find_all("style") == []
    assert all("src" in s.attrs for s in page.find_all("script"))
    assert "style=" not in response.content.decode()
    assert "viewflow" not in response.content.decode()


def test_messages_are_shown_in_a_status_region(world, client):
    from evolutions.demo import evolutions_demo_load
    from evolutions.models import ChangeRequest

    evolutions_demo_load()
    client.force_login(world.user("cd23.porteur"))
    draft = ChangeRequest.objects.filter(
        organisation=world.creuse, status=ChangeRequest.Status.DRAFT
    ).first()

    response = client.post(
        reverse("evolutions:comment", args=[draft.pk]), {"body": "Bonjour"}, follow=True
    )

    status = parse(response).find("main").find(role="status")
    assert status.text() == "Message publié."


@pytest.mark.parametrize(
    ("path", "title"),
    [
        ("/", "Mes tâches – Tandem"),
        ("/evolutions/", "Demandes d'évolution – Tandem"),
        ("/notifications/", "Notifications – Tandem"),
        ("/compte/double-authentification/", "Double authentification – Tandem"),
        ("/accounts/password_change/", "Changer de mot de passe – Tandem"),
        ("/no-such-page/", "Page introuvable – Tandem"),
    ],
)
def test_titles_end_with_tandem(world, client, path, title):
    client.force_login(world.user("cd23.porteur"))

    assert parse(client.get(path)).find("title").text() == title


def test_english_pages_have_english_lang(world, client):
    client.force_login(world.user("cd23.porteur"))
    client.cookies["django_language"] = "en"

    page = parse(client.get("/"))

    assert page.find("html").attrs["lang"] == "en"
    assert page.find("a", href="#contenu").text() == "Skip to content"


def _pages_of_the_shell(client, start="/", limit=60) -> dict:
    """Pages reached from `start` by links, rendered from the shell."""
    seen, queue, shell_pages = set(), [start], {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = client.get(url)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        if SHELL_TEMPLATE in [t.name for t in response.templates]:
            shell_pages[url] = response.content.decode()
        for href in re.findall(r'href="(/[^"#]*)"', response.content.decode()):
            href = href.replace("&amp;", "&")
            if href.startswith(("/static/", "/admin/", "/i18n/", "/jsi18n/")):
                continue
            if href.endswith(".pdf") or href in seen:
                continue
            queue.append(href)
    return shell_pages


@pytest.mark.parametrize("username", ["cd23.porteur", "cnaf.commande", "cd23.testeur"])
def test_no_material_class_in_the_pages_of_the_shell(
    world, client, username, settings, tmp_path
):
    from evolutions.demo import evolutions_demo_load
    from recette.demo import recette_demo_load

    settings.PRIVATE_MEDIA_ROOT = str(tmp_path)
    evolutions_demo_load()
    recette_demo_load()
    client.force_login(world.user(username))

    pages = _pages_of_the_shell(client)

    assert len(pages) > 10
    for url, page in pages.items():
        assert not MATERIAL_CLASS.search(page), url
        assert not MATERIAL_ELEMENT.search(page), url
        assert "{% render" not in page and 'class="vf-form"' not in page, url


def test_no_template_of_ours_uses_material_classes_outside_viewflow_overrides():
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]
    found = [
        t
        for folder in folders
        for t in folder.rglob("*.html")
        if "templates/viewflow/" not in t.as_posix()
    ]
    assert len(found) > 40
    offenders = [
        str(t.relative_to(ROOT))
        for t in found
        if MATERIAL_CLASS.search(t.read_text())
        or MATERIAL_ELEMENT.search(t.read_text())
        or "{% render " in t.read_text()
    ]
    assert offenders == []


def test_login_errors_are_at_their_field_and_in_a_summary(client):
    response = client.post(reverse("login"), {"username": "", "password": ""})

    assert response.status_code == 200
    page = parse(response)
    assert page.find("title").text() == "Erreur – Connexion – Tandem"
    summary = page.find(role="alert")
    assert summary.attrs["tabindex"] == "-1"
    assert "data-tandem-error-summary" in summary.attrs
    assert [a.attrs["href"] for a in summary.find_all("a")] == [
        "#id_username",
        "#id_password",
    ]
    for name, autocomplete in [
        ("username", "username"),
        ("password", "current-password"),
    ]:
        field = page.find("input", name=name)
        assert field.attrs["autocomplete"] == autocomplete
        assert field.attrs["aria-invalid"] == "true"
        assert "required" in field.attrs
        error = page.find(id=field.attrs["aria-describedby"])
        assert error.text() == "Ce champ est obligatoire."
        label = page.find("label", **{"for": field.attrs["id"]})
        assert "(obligatoire)" in label.text()


def test_a_wrong_password_is_announced_in_the_summary(world, client):
    response = client.post(
        reverse("login"), {"username": "cd23.porteur", "password": "mauvais"}
    )

    page = parse(response)
    assert page.find("title").text().startswith("Erreur – ")
    assert "Saisissez un nom d’utilisateur et un mot de passe valides" in (
        page.find(role="alert").text()
    )


def test_an_unbound_form_has_no_summary_nor_error_title(client):
    page = parse(client.get(reverse("login")))

    assert page.find("title").text() == "Connexion – Tandem"
    assert page.find_all(role="alert") == []


def test_password_change_is_in_the_shell_with_autocomplete(world, client):
    client.force_login(world.user("cd23.porteur"))

    page = parse(
        client.post(
            reverse("password_change"),
            {"old_password": "", "new_password1": "a", "new_password2": "b"},
        )
    )

    assert page.find("title").text() == "Erreur – Changer de mot de passe – Tandem"
    assert page.find("nav", aria_label="Menu principal")
    assert page.find("input", name="old_password").attrs["autocomplete"] == (
        "current-password"
    )
    for name in ("new_password1", "new_password2"):
        assert page.find("input", name=name).attrs["autocomplete"] == "new-password"
    assert page.find(role="alert")


def test_password_reset_pages_are_in_the_shell(db, client):
    form = parse(client.get(reverse("password_reset")))
    done = parse(client.get(reverse("password_reset_done")))
    invalid = parse(
        client.get(reverse("password_reset_confirm", args=["MQ", "set-password"]))
    )
    complete = parse(client.get(reverse("password_reset_complete")))

    assert form.find("input", name="email").attrs["autocomplete"] == "email"
    for page in (form, done, invalid, complete):
        assert page.find("main").attrs["id"] == "contenu"
        assert page.find("title").text().endswith(" – Tandem")
    assert invalid.find("a", href=reverse("password_reset"))
    assert complete.find("a", href=reverse("login")).text() == "Se connecter"


def test_a_field_with_several_errors_is_counted_in_the_summary(world, client):
    client.force_login(world.user("cd23.porteur"))

    page = parse(
        client.post(
            reverse("password_change"),
            {"old_password": "", "new_password1": "1234", "new_password2": "1234"},
        )
    )

    summary = page.find(role="alert")
    entries = {a.attrs["href"]: a.text() for a in summary.find_all("a")}
    assert entries["#id_old_password"] == (
        "Ancien mot de passe : Ce champ est obligatoire."
    )
    field_errors = page.find("ul", id="id_new_password2_error").find_all("li")
    assert len(field_errors) >= 2
    assert entries["#id_new_password2"].endswith(f" : {len(field_errors)} erreurs")
