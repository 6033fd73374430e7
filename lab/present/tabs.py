"""The app's tabs, in order: one name per page module (pages/<name>.py), its label "tab.<name>" and its
lesson assets/lessons/<lang>/<name>.md. app.py builds them from this list; the lesson and i18n tests
and the browser test iterate it, so a new tab is one name here plus its page, label and lesson."""

TABS = ("home", "generate", "finetune", "quantize", "prompting", "scaling", "evaluate", "align", "chat", "runs")
