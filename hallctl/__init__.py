"""Hall control, the floor above the parts: the `hall` command line, `hall up` and the simulated traffic.

The only package that imports several parts: `hall/` (the core) imports none of them, `devices/` and `hub/` only
the core, `kiosk/` and `display/` the core and `devices/`. Each part offers a Python API with plain parameters;
argparse lives here.
"""
