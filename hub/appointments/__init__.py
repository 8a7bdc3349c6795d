"""Appointments (网上预约): booking, cancelling, changing, and the rules of check-in (docs/appointments.md)."""
