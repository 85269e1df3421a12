"""What a change request tells the processes built on it.

Hand-offs go one way: `evolutions` knows no later process; an app that starts when
a request reaches a step (the acceptance, when manufacture is done) connects a
receiver from its own `AppConfig.ready()`.
"""

from django.dispatch import Signal

# Sent inside the transaction that marks manufacture done, with `change_request`:
# receivers start what follows in that same transaction (a failure rolls back the
# whole step).
manufacture_finished = Signal()
