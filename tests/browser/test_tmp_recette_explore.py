import pytest
from evolutions.demo import evolutions_demo_load
from evolutions.models import ChangeRequest

pytestmark = pytest.mark.browser


def test_explore(world, visit, settings, tmp_path):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    evolutions_demo_load()
    cr = ChangeRequest.objects.get(organisation__code="23", status=ChangeRequest.Status.IN_ACCEPTANCE)
    print("CR", cr.pk, cr.reference)
    v = visit(world.user("cnaf.commande"))
    page = v.goto("/recette/inbox/")
    open("/tmp/explore/inbox.html", "w").write(page.content())
    page = v.goto("/recette/queue/")
    open("/tmp/explore/queue.html", "w").write(page.content())
    v2 = visit(world.user("cnaf.moe"))
    page = v2.goto("/recette/queue/")
    open("/tmp/explore/queue_moe.html", "w").write(page.content())
    page = v2.goto("/recette/inbox/")
    open("/tmp/explore/inbox_moe.html", "w").write(page.content())
    v.page.get_by_role("link", name=cr.reference).first.click() if False else None
    print(v.problems, v2.problems)
    v.problems.clear(); v2.problems.clear()
