"""What the maintenance states are called, in the reader's language."""

from __future__ import annotations

from controller.i18n import _l
from controller.maintenance.models import TicketCategory, TicketPriority, TicketStatus

STATUS_WORDS = {
    TicketStatus.NEW: _l("New"),
    TicketStatus.ASSIGNED: _l("Assigned"),
    TicketStatus.IN_PROGRESS: _l("In progress"),
    TicketStatus.WAITING: _l("Waiting"),
    TicketStatus.SOLVED: _l("Solved"),
    TicketStatus.CLOSED: _l("Closed"),
}

PRIORITY_WORDS = {
    TicketPriority.URGENT: _l("Urgent"),
    TicketPriority.HIGH: _l("High"),
    TicketPriority.NORMAL: _l("Normal"),
    TicketPriority.LOW: _l("Low"),
}

# What a mediator taps to report a problem, in the order shown.
CATEGORY_WORDS = {
    TicketCategory.PRINTER: _l("Printer jammed or empty"),
    TicketCategory.INPUT: _l("Keyboard or mouse"),
    TicketCategory.SCREEN: _l("Screen"),
    TicketCategory.WONT_START: _l("Won't start"),
    TicketCategory.NETWORK: _l("Network or wifi"),
    TicketCategory.OTHER: _l("Other"),
    TicketCategory.ALERT: _l("Seen by monitoring"),
}
