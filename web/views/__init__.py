"""One router module per console page (and its JSON twin under /api/). A new page is a module here with a
`router`, listed below, and a template extending `base.html`; its path in `web.app.NAV` lights up by itself."""

VIEW_MODULES = [
    "web.views.login",
    "web.views.live",
    "web.views.alerts",
    "web.views.today",
    "web.views.history",
    "web.views.attendance",
    "web.views.devices",
    "web.views.reports",
    "web.views.cases",
    "web.views.year",
    "web.views.users",
]
