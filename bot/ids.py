"""Every callback_id, action_id and block_id the app uses: never inline strings."""

from __future__ import annotations

from enum import StrEnum


class CallbackId(StrEnum):
    SEND_CALL = "send_call"
    REQUEST_BATCH = "request_batch"
    REJECT_BATCH = "reject_batch"
    NEW_SCHEMA = "new_schema"
    EDIT_SCHEMA = "edit_schema"
    BACKFILL = "backfill"
    CONFIRM_BACKFILL = "confirm_backfill"
    DNC_IMPORT = "dnc_import"
    RERUN_BATCH = "rerun_batch"
    WHOLE_NUMBERS = "whole_numbers"


class ActionId(StrEnum):
    STOP_CALL = "stop_call"
    REFRESH_CALL = "refresh_call"
    CONFIRM_STOP_CALL = "confirm_stop_call"
    OPEN_CALL_MODAL = "open_call_modal"
    OPEN_BATCH_MODAL = "open_batch_modal"
    OPEN_BACKFILL_MODAL = "open_backfill_modal"
    APPROVE_BATCH = "approve_batch"
    REJECT_BATCH = "reject_batch"
    CANCEL_BATCH = "cancel_batch"
    STOP_BATCH = "stop_batch"
    REFRESH_BATCH = "refresh_batch"
    GET_RECORDING = "get_recording"
    APPROVE_OVER_BALANCE = "approve_over_balance"
    STOP_ALL_CALLS = "stop_all_calls"
    MORE_CALLS = "more_calls"
    VIEW_CALL = "view_call"
    RETRY_CALL = "retry_call"
    RERUN_BATCH = "rerun_batch"
    WHOLE_NUMBERS = "whole_numbers"


class BlockId(StrEnum):
    """Modal inputs: each input block holds one element whose action_id is the same string."""

    PHONE = "phone"
    TASK = "task"
    PATHWAY = "pathway_id"
    FIRST_SENTENCE = "first_sentence"
    VOICE = "voice"
    MAX_DURATION = "max_duration"
    OPTIONS = "options"
    REQUEST_DATA = "request_data"
    CITATION_SCHEMAS = "citation_schemas"
    VOICEMAIL_ACTION = "voicemail_action"
    VOICEMAIL_MESSAGE = "voicemail_message"
    SUMMARY_PROMPT = "summary_prompt"
    CHANNEL = "channel"
    BATCH_LABEL = "batch_label"
    BASE_PROMPT = "base_prompt"
    RECIPIENTS_FILE = "recipients_file"
    RECIPIENTS_TEXT = "recipients_text"
    FROM_NUMBER = "from_number"
    BATCH_OPTIONS = "batch_options"
    APPROVER_NOTE = "approver_note"
    REJECT_REASON = "reject_reason"
    SCHEMA_NAME = "schema_name"
    SCHEMA_DESCRIPTION = "schema_description"
    SCHEMA_VARIABLES = "schema_variables"
    BACKFILL_SCHEMAS = "backfill_schemas"
    INLINE_SCHEMA = "inline_schema"
    CALL_IDS = "call_ids"
    DNC_FILE = "dnc_file"
    DNC_TEXT = "dnc_text"
    RERUN_KINDS = "rerun_kinds"
    START_AT = "start_at"
    BACKFILL_BATCH = "backfill_batch"
    CONVERSATION_IDS = "conversation_ids"


class Option(StrEnum):
    RECORD = "record"
    TEST_MODE = "test_mode"
    LEAVE_OUT_BAD_ROWS = "leave_out_bad_rows"
    WHEN_ALLOWED = "when_allowed"
