"""The ESC/POS ticket printer (python-escpos over serial) and its pseudo-terminal simulator."""

from devices.printer.printer import (
    OFFLINE,
    OK,
    PAPER_LOW,
    PAPER_OUT,
    CaseSlip,
    PrinterError,
    TicketContent,
    TicketPrinter,
)

__all__ = ["OFFLINE", "OK", "PAPER_LOW", "PAPER_OUT", "CaseSlip", "PrinterError", "TicketContent", "TicketPrinter"]
