"""How long each typed input may be: the modal's `max_length` and the form's check read the same number.

Slack enforces `max_length` in the client, but a submission can come from anywhere, so the forms check again.
"""

from __future__ import annotations

# A call's task (Bland takes long prompts; Slack's plain-text input caps at 3,000 unless told more).
TASK_MAX_CHARS = 4000
FIRST_SENTENCE_MAX_CHARS = 200
# JSON and free text typed into a modal: request data, analysis schemas, pasted CSV, pasted ids.
FREE_TEXT_MAX_CHARS = 3000
# A batch request.
LABEL_MAX_CHARS = 80
PROMPT_MAX_CHARS = 4000
NOTE_MAX_CHARS = 1000
# A citation schema.
SCHEMA_NAME_MAX_CHARS = 100
SCHEMA_DESCRIPTION_MAX_CHARS = 500
