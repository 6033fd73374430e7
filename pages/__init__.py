"""One module per tab of the app: widgets and event wiring only; what they show comes from lab/.

Each module has build(ui), called inside the app's gr.Tabs; `ui` (pages/ui.py) carries the language
registry, the browser states (language, visitor key) and the shared timer.
"""
