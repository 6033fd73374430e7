"""Job kinds: one module each, ending with `KINDS.register(XSpec.kind, Kind(XSpec, run))` (lab.specs).

Adding a kind is adding a file here: lab.specs.KINDS imports every module of this package on first
use. Kind modules import no torch at module level (the app imports them to build forms); their run()
imports what it needs.
"""
