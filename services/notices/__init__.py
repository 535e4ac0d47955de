"""E-mail notices to the affiliate: the outbox, the daily planning of reminders, the
messages, and their sending (docs/NOTICES.md says which event sends what, when).

- ``outbox``: a notice is a row written in the same transaction as its cause, unique
  per (request, kind, rang);
- ``planning``: ``flask notifications plan`` queues the day's reminders;
- ``messages``: a notice as an e-mail (plain text + HTML, French or Arabic, the .ics);
- ``sending``: ``flask notifications send`` claims, sends and retries.
"""
