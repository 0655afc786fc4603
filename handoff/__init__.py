"""Handing a conversation to a person: reason codes now; triggers, packet and queue arrive with the queue."""
