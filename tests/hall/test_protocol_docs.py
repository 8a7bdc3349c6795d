"""docs/protocol.md against the models of what the hub sends: every JSON example under a "### …" heading that
names a topic fits the model of that topic, with no field the model does not know, and every model has an example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hall.protocol import (
    DEVICE_CHANNEL_MODELS,
    HUB_TOPIC_MODELS,
    FromHub,
    hub_message_model,
    parse_topic,
    read_from_hub,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
HEADING = re.compile(r"^### (.+)$", re.M)
TOPIC = re.compile(r"`(hall/v1/[^`]+)`")
EXAMPLE = re.compile(r"^```json\n(.*?)^```", re.M | re.S)


def examples() -> list[tuple[str, str, list[type[FromHub]]]]:
    """(heading, JSON text, the models of the topics the heading names) for each example of a hub message."""
    text = DOC.read_text(encoding="utf-8")
    out = []
    starts = [m for m in HEADING.finditer(text)]
    for i, heading in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        section = text[heading.end():end].split("\n## ", 1)[0]
        models = []
        for topic in TOPIC.findall(heading.group(1)):
            model = hub_message_model(parse_topic(topic))
            if model is not None and model not in models:
                models.append(model)
        if models:
            out += [(heading.group(1), block, models) for block in EXAMPLE.findall(section)]
    return out


EXAMPLES = examples()


def _unknown_fields(sent: object, read: object, where: str = "") -> list[str]:
    """Keys of the example that the model did not take (readers would drop them without a word)."""
    if isinstance(sent, dict) and isinstance(read, dict):
        out = []
        for key, value in sent.items():
            if key not in read:
                out.append(f"{where}{key}")
            else:
                out += _unknown_fields(value, read[key], f"{where}{key}.")
        return out
    if isinstance(sent, list) and isinstance(read, list):
        return [f for s, r in zip(sent, read, strict=True) for f in _unknown_fields(s, r, where)]
    return []


def _fits(model: type[FromHub], text: str) -> str | None:
    """None when the example is a message of `model`, else why not."""
    try:
        message = read_from_hub(model, text)
    except ValueError as err:
        return str(err)
    unknown = _unknown_fields(json.loads(text), message.model_dump(exclude_unset=True))
    return f"{model.__name__} has no field {', '.join(unknown)}" if unknown else None


def test_the_doc_has_examples_of_hub_messages():
    assert len(EXAMPLES) >= 15


@pytest.mark.parametrize(("heading", "text", "models"), EXAMPLES,
                         ids=[f"{h.split(' — ')[0]}-{i}" for i, (h, _, _) in enumerate(EXAMPLES)])
def test_every_example_fits_the_model_of_its_topic(heading, text, models):
    reasons = [_fits(model, text) for model in models]
    assert None in reasons, f"{heading}: {text}\n" + "\n".join(r for r in reasons if r)


def test_every_model_of_a_hub_message_has_an_example():
    shown = {model for _, text, models in EXAMPLES for model in models if _fits(model, text) is None}
    wanted = {*HUB_TOPIC_MODELS.values(), *DEVICE_CHANNEL_MODELS.values()}
    assert not wanted - shown, f"no example in docs/protocol.md of {sorted(m.__name__ for m in wanted - shown)}"


def test_a_field_the_model_does_not_know_is_caught():
    from hall.protocol import Ack

    assert _fits(Ack, '{"through_seq": 41}') is None
    assert "has no field through" in _fits(Ack, '{"through_seq": 41, "through": 41}')
    assert "field required" in _fits(Ack, '{"through": 41}')
