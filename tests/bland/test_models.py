"""Lenient parsing of the documents' own examples (docs/bland.md, "Transport" and "Call statuses")."""

from bot.bland.models import BackfillStatus, Batch, Call, CitationSchema, StopResult


def test_call_details_example_parses_and_is_terminal() -> None:
    call = Call.model_validate(
        {
            "call_id": "d9cc-8715",
            "call_length": 0.75,
            "corrected_duration": "45",
            "queue_status": "completed",
            "status": "completed",
            "completed": True,
            "from": "+17163511654",
            "answered_by": "human",
            "transcripts": [{"id": 1, "text": "Hello?", "user": "user", "c_id": "d9cc", "status": None}],
            "some_future_field": {"x": 1},
        }
    )
    assert call.is_terminal and not call.is_error
    assert call.normalized_queue_status == "complete"
    assert call.duration_seconds == 45.0
    assert call.from_ == "+17163511654"
    assert call.model_extra == {"some_future_field": {"x": 1}}


def test_numeric_ids_and_array_answered_by_are_tolerated() -> None:
    call = Call.model_validate({"call_id": 12345, "answered_by": ["voicemail"], "call_length": 0.5})
    assert call.id == "12345"
    assert call.answered_by_text == "voicemail"
    assert call.duration_seconds == 30.0


def test_error_queue_statuses() -> None:
    for status in ("pre_queue_error", "queue_error", "call_error"):
        call = Call.model_validate({"queue_status": status})
        assert call.is_terminal and call.is_error
    assert not Call.model_validate({"queue_status": "complete_error"}).is_error
    assert not Call.model_validate({"queue_status": "started"}).is_terminal
    assert not Call.model_validate({"queue_status": "something_new"}).is_terminal


def test_batch_and_stop_shapes() -> None:
    batch = Batch.model_validate(
        {
            "status": "in-progress",
            "batch_params": {"id": "3p$7-gen-batch"},
            "analysis": {"total_calls": 88, "queue_statuses": {"complete": 85}},
        }
    )
    assert not batch.is_done and batch.analysis and batch.analysis.total_calls == 88
    assert StopResult.model_validate({"status": "success", "batch_id": ["a", "b"]}).batch_id == ["a", "b"]


def test_schema_with_integer_status_envelope_data() -> None:
    schema = CitationSchema.model_validate(
        {
            "id": "s1",
            "name": "Customer",
            "schema": {
                "variables": [{"name": "Interested in Demo", "type": "boolean", "description": "d"}],
                "conditions": [
                    {
                        "condition": {"variable": "Interested in Demo", "operator": "===", "value": "true"},
                        "variables": [{"name": "Demo Preference", "type": "string"}],
                    }
                ],
            },
        }
    )
    assert schema.body is not None and schema.body.conditions[0].variables[0].name == "Demo Preference"


def test_backfill_status_terminal_states() -> None:
    assert not BackfillStatus.model_validate({"status": "RUNNING"}).is_terminal
    for status in ("COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"):
        assert BackfillStatus.model_validate({"status": status}).is_terminal
