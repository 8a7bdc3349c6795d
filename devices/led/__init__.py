"""The LED bus master (`hall led`): window screens and guide strips, on the hall bus or wired to the Pi's SPI."""
