"""Job kinds: one module each, registering itself with lab.specs.register_kind on import.

Adding a kind is adding a file here. Kind modules import no torch at module level (the app
imports them to build forms); their run() imports what it needs.
"""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
