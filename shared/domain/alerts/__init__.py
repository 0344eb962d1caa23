"""Alerts: status-change events, channels, digests, reminders, deliveries and their retries, and the two message
shapes (a signed webhook and a Teams card). Pure values and rules: the clock, ids and randomness come in as arguments.
"""
