"""The citizens' public site (公众服务): follow your ticket from the phone, near-turn notices, rating from the phone.

Its own listener apart from the managers' console, its own broker login (kind `web`), the hub's journal read-only.
docs/public.md tells how it is deployed facing the public Wi-Fi or the internet.
"""
