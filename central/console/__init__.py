"""The central console: the halls side by side over the central PostgreSQL (read-only), in its own small app.

It reuses nothing of the hall's console (web/) by import: the floor plan keeps central/ on hall/ alone.
"""
