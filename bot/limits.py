"""How long each typed input may be: the modal's `max_length` and the form's check read the same number.

Slack enforces `max_length` in the client, but a submission can come from anywhere, so the forms check again.
"""

from __future__ import annotations

# A plain_text_input takes at most 3,000 characters (Slack refuses a view asking for more), so a call's task
# and a batch prompt typed in a modal are capped there, though Bland would take longer ones.
TASK_MAX_CHARS = 3000
FIRST_SENTENCE_MAX_CHARS = 200
# JSON and free text typed into a modal: request data, analysis schemas, pasted CSV, pasted ids.
FREE_TEXT_MAX_CHARS = 3000
# Bland answers a longer `summary_prompt` with a 400 (docs/bland.md, "Calls").
SUMMARY_PROMPT_MAX_CHARS = 2000
VOICEMAIL_MESSAGE_MAX_CHARS = 1000
# A batch request.
LABEL_MAX_CHARS = 80
PROMPT_MAX_CHARS = 3000
NOTE_MAX_CHARS = 1000
# A citation schema.
SCHEMA_NAME_MAX_CHARS = 100
SCHEMA_DESCRIPTION_MAX_CHARS = 500
# A do-not-call entry's reason.
REASON_MAX_CHARS = 200
