"""The application shell: viewflow's Site, composed of what the apps declare."""

from django.urls import path
from viewflow.urls import Site

from workflow import search, shell, views
from workflow.urls import DirectoryApp


class TandemSite(Site):
    title = "Tandem"
    primary_color = "#000091"  # the French State's blue
    secondary_color = "#e1000f"

    # « Mes tâches »: the user's tasks of every process.
    index_path = path("", views.home, name="index")
    # Opening a waiting task from « Mes tâches » takes it; « Rendre la tâche »
    # gives it back. `flow`: the flow's url_name (workflow.flowviews.SCOPED_FLOWS).
    task_open_path = path(
        "taches/<str:flow>/<int:task_pk>/ouvrir/", views.task_open, name="task_open"
    )
    task_give_back_path = path(
        "taches/<str:flow>/<int:task_pk>/rendre/",
        views.task_give_back,
        name="task_give_back",
    )
    # A supervisor gives a task to another holder of its role (workflow.reassign).
    task_reassign_path = path(
        "taches/<str:flow>/<int:task_pk>/reattribuer/",
        views.task_reassign,
        name="task_reassign",
    )
    # A process's chart inside the shell (viewflow draws the picture).
    process_chart_path = path(
        "processus/<str:flow>/<int:process_pk>/schema/",
        views.process_chart,
        name="process_chart",
    )
    notifications_path = path(
        "notifications/", views.notification_list, name="notifications"
    )
    # « Tout marquer comme lu » (or one notification): a POST.
    notifications_read_path = path(
        "notifications/lues/",
        views.notification_mark_read,
        name="notifications_mark_read",
    )
    # The header's search box: what the user may see, grouped by kind (the
    # providers the process apps declared, workflow.search).
    search_path = path("recherche/", search.search_page, name="search")
    second_factor_path = path(
        "compte/double-authentification/",
        views.second_factor_page,
        name="second_factor",
    )


# Each process app's pages and task pages (registered from its AppConfig, see
# workflow.shell), then the engine's directory.
site = TandemSite(viewsets=[*shell.applications(), DirectoryApp()])
