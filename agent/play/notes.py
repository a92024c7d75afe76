"""Messages the player adds to what it tells, which readers of its results know by name: here,
so that they need not load the player (and Playwright) for it."""

from __future__ import annotations

from agent.i18n import N_

# How a failure's message names the files left as evidence (the HTML report, which shows the
# files themselves, reads the message without it).
EVIDENCE_NOTE = N_("{error} (evidence: {files})")
