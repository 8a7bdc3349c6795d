"""The Kivy self-service kiosk: find a guide, take a ticket, print it."""
