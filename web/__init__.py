"""The managers' console (管理控制台): the live hall, alerts, devices and people, served on the hall LAN.

`web.app.create_app` builds the ASGI app; one router module per page in `web/views/`, each page rendered from the
same data as its JSON twin under `/api/`. The console talks to the hub over MQTT with its own device login
(`web.hub_feed`) and reads the hub's journal read-only (`web.journal`). docs/console.md describes it.
"""
