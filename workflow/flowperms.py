"""Who a flow task is for: permissions and owners shared by both processes.

Both processes run on a change request (`process.change_request`); a task belongs
either to a role of that request's client or to a role of the supplier.
"""

from contacts.models import Organisation, Role
from workflow.access import role_permission

# What inboxes and queues show of a task: the request it is about.
SUMMARY = "{{ process.change_request.reference }} – {{ process.change_request.title }}"


def change_request_of(activation):
    """The change request a task's process is about."""
    return activation.process.change_request


def client_role(role: Role):
    """`.Permission(...)` of `role` in the request's own organisation."""
    return lambda activation: role_permission(
        role, change_request_of(activation).organisation
    )


def supplier_role(role: Role):
    """`.Permission(...)` of `role` at the supplier."""
    supplier = Organisation(code=Organisation.SUPPLIER_CODE)
    return lambda activation: role_permission(role, supplier)


def order_owner(activation):
    """`.Assign(...)`: the supplier's owner of the request."""
    return change_request_of(activation).order_owner
