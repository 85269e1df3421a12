import pytest
from pathlib import Path
from evolutions.models import ChangeRequest
from evolutions import services

pytestmark = pytest.mark.browser


def dump(v, name):
    Path(f"/tmp/ev/{name}.html").write_text(v.page.content())
    v.page.screenshot(path=f"/tmp/ev/{name}.png", full_page=True)


def test_explore(world, visit):
    porteur = world.user("cd23.porteur")
    cr = services.change_request_create(by=porteur, organisation=world.creuse, title="Motif", kind="reglementaire", data_flows=["DSG"], description="x")
    p = visit(porteur)
    p.goto(f"/evolutions/{cr.pk}/")
    dump(p, "detail_draft")
    services.change_request_submit(pk=cr.pk, by=porteur)
    c = visit(world.user("cnaf.contact"))
    c.goto("/evolution/queue/")
    dump(c, "c_queue")
    c.goto("/evolution/inbox/")
    dump(c, "c_inbox")
    c.goto("/")
    dump(c, "c_home")
    print("\n".join(p.problems + c.problems))
    p.problems.clear(); c.problems.clear()
