"""The benchmark dataset (`manage.py generate_dataset`): volumes and the engine's
tables in `core`, each process's rows in the module of its name. Not part of the
product: nothing in the apps imports it."""
