"""Who a flow task is for: permissions and owners shared by every process.

Every process runs on a business object, its `subject` (a property of the flow's
process model: a change request, an incident…) that belongs to one client
organisation; a task belongs either to a role of that client or to a role of the
supplier.
"""

from contacts.models import Organisation, Role
from workflow.access import role_permission

# What inboxes and queues show of a task: what its process is about.
SUMMARY = "{{ process.subject.reference }} – {{ process.subject.title }}"


def subject_of(activation):
    """What a task's process is about."""
    return activation.process.subject


def client_role(role: Role):
    """`.Permission(...)` of `role` in the subject's own organisation."""
    return lambda activation: role_permission(role, subject_of(activation).organisation)


def supplier_role(role: Role):
    """`.Permission(...)` of `role` at the supplier."""
    supplier = Organisation(code=Organisation.SUPPLIER_CODE)
    return lambda activation: role_permission(role, supplier)


def order_owner(activation):
    """`.Assign(...)`: the supplier's owner of the subject (its `order_owner`)."""
    return subject_of(activation).order_owner
