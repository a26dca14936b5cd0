"""validate.extraction and validate.generate_prompt over the workflow's ``extraction_schema``, ``semantic_probes``
and ``validation_constraints`` (TEA's specialized actions). Layers run in TEA's order and stop at the first that
fails: structure, then Prolog constraints (not available here: a located error names them), then the model's
yes/no answers to the probes."""

from __future__ import annotations

import datetime
from typing import Any

from tea_studio.engine import expressions
from tea_studio.engine.actions.context import ActionContext, ActionError
from tea_studio.engine.actions.llm import ask
from tea_studio.engine.actions.registry import builtin

_NO = ("no", "false", "incorrect", "negative", "not true", "not correct")  # checked first: "incorrect" holds "correct"
_YES = ("yes", "true", "correct", "affirmative", "indeed")


def _section(params: dict[str, Any], key: str, section: str, context: ActionContext) -> Any:
    value = params.get(key)
    return value if value is not None else context.sections.get(section)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _missing(item: dict[str, Any], field: str) -> bool:
    return item.get(field) is None


def structure_errors(schema: dict[str, Any], entities: list[Any], relationships: list[Any]) -> list[dict[str, Any]]:
    """Missing required fields, relationship types outside ``types``, fields a type requires (TEA's error types)."""
    errors: list[dict[str, Any]] = []
    entity_spec, relation_spec = _dict(schema.get("entities")), _dict(schema.get("relationships"))
    for i, entity in enumerate(entities):
        entity = _dict(entity)
        errors += [{"type": "missing_required_field", "path": f"entities[{i}].{name}", "entity": entity,
                    "expected": name, "actual": None, "message": f"Entity missing required field '{name}'"}
                   for name in entity_spec.get("required_fields") or [] if _missing(entity, name)]
    types = relation_spec.get("types") or []
    requirements = _dict(relation_spec.get("type_requirements"))
    for i, relation in enumerate(relationships):
        relation = _dict(relation)
        errors += [{"type": "missing_required_field", "path": f"relationships[{i}].{name}", "relationship": relation,
                    "expected": name, "actual": None, "message": f"Relationship missing required field '{name}'"}
                   for name in relation_spec.get("required_fields") or [] if _missing(relation, name)]
        kind = relation.get("type")
        if types and kind not in types:
            errors.append({"type": "invalid_relationship_type", "path": f"relationships[{i}].type",
                           "relationship": relation, "expected": types, "actual": kind,
                           "message": f"Invalid relationship type '{kind}', expected one of {types}"})
        if isinstance(kind, str):
            errors += [{"type": "missing_type_specific_field", "path": f"relationships[{i}].{name}",
                        "relationship": relation, "expected": name, "actual": None,
                        "message": f"Relationship type '{kind}' requires field '{name}'"}
                       for name in requirements.get(kind) or [] if _missing(relation, name)]
    return errors


def answered_yes(text: str) -> bool:
    """TEA's reading of a yes/no answer: any negative word means no, else an affirmative word means yes."""
    text = text.lower().strip()
    return not any(word in text for word in _NO) and any(word in text for word in _YES)


def _probe_errors(probes: list[Any], items: dict[str, list[Any]], source: str, state: dict[str, Any],
                  context: ActionContext) -> list[dict[str, Any]]:
    """Ask the model each probe's question per matching item; a ``reject`` probe stops at its first no."""
    errors: list[dict[str, Any]] = []
    for probe in (_dict(p) for p in probes):
        kind, rejects = probe.get("for_each", ""), probe.get("on_fail", "reject") == "reject"
        if kind not in items:
            errors.append({"type": "invalid_probe_config", "message": f"Invalid for_each value: {kind}"})
            continue
        for item in (_dict(i) for i in items[kind]):
            names = {**item, "text": source}
            try:
                with expressions.template_names(names):
                    if probe.get("where") and not expressions.evaluate(str(probe["where"]), state, context.variables):
                        continue
                    question = expressions.render(str(probe.get("probe") or ""), state, context.variables)
            except expressions.ExpressionError as exc:
                errors.append({"type": "probe_render_error", "message": str(exc), "probe": probe.get("probe"),
                               "item": item})
                if rejects:
                    return errors
                continue
            try:
                answer = ask(context, [{"role": "system", "content": "You check facts. Answer only 'yes' or 'no'."},
                                       {"role": "user", "content": question}], max_tokens=10)
                if answer.get("success") is False:
                    raise ActionError(str(answer.get("error")))
            except ActionError as exc:
                errors.append({"type": "probe_execution_error", "message": exc.message, "probe": probe.get("probe"),
                               "question": question, "item": item})
                if rejects:
                    return errors
                continue
            reply = str(answer.get("content") or "")
            if not answered_yes(reply):
                errors.append({"type": "semantic_probe_failed", "probe": probe.get("probe"), "question": question,
                               "response": reply, "item": item, "message": f"LLM probe failed: {question}"})
                if rejects:
                    return errors
    return errors


@builtin("validate.extraction")
def validate_extraction(params: dict[str, Any], state: dict[str, Any], context: ActionContext) -> dict[str, Any]:
    """``{valid, errors, validated_at}``; entities, relationships and source_text default to the state's
    ``entities``, ``relationships`` and ``text``."""
    entities = params.get("entities") if params.get("entities") is not None else state.get("entities") or []
    relationships = (params.get("relationships") if params.get("relationships") is not None
                     else state.get("relationships") or [])
    source = params.get("source_text") if params.get("source_text") is not None else state.get("text") or ""
    entities = entities if isinstance(entities, list) else []
    relationships = relationships if isinstance(relationships, list) else []
    errors = structure_errors(_dict(_section(params, "schema", "extraction_schema", context)), entities,
                              relationships)
    constraints = _dict(_section(params, "constraints", "validation_constraints", context))
    if not errors and constraints.get("rules"):
        raise ActionError("validate.extraction: validation_constraints are Prolog rules, and TEA Studio runs "
                          "Prolog only in Prolog nodes (language: prolog); export and run with tea")
    probes = _section(params, "probes", "semantic_probes", context)
    if not errors and isinstance(probes, list) and probes:
        errors = _probe_errors(probes, {"entity": entities, "relationship": relationships}, str(source), state,
                               context)
    return {"valid": not errors, "errors": errors,
            "validated_at": datetime.datetime.now(datetime.UTC).isoformat()}


@builtin("validate.generate_prompt")
def validate_generate_prompt(params: dict[str, Any], state: dict[str, Any], context: ActionContext
                             ) -> dict[str, Any]:
    """The extraction prompt ``extraction_schema`` describes (its ontology, the comments of the Prolog constraints
    as plain rules, and the confidence instruction)."""
    schema = _dict(_section(params, "schema", "extraction_schema", context))
    if not schema:
        return {"extraction_prompt": ""}
    entity_spec, relation_spec = _dict(schema.get("entities")), _dict(schema.get("relationships"))
    lines = ["You are extracting entities and relationships from text.", "", "ONTOLOGY:"]
    fields = [f"{f} (required)" for f in entity_spec.get("required_fields") or []]
    fields += [f"{f} (optional)" for f in entity_spec.get("optional_fields") or []]
    if fields:
        lines.append(f"- Entities must have: {', '.join(fields)}")
    if relation_spec.get("types"):
        lines.append(f"- Valid relationship types: {', '.join(map(str, relation_spec['types']))}")
    if relation_spec.get("required_fields"):
        lines.append("- Relationships must have: "
                     + ", ".join(f"{f} (required)" for f in relation_spec["required_fields"]))
    for kind, needed in _dict(relation_spec.get("type_requirements")).items():
        lines.append(f"- {kind} relationships require: {', '.join(map(str, needed or []))}")
    rules = str(_dict(context.sections.get("validation_constraints")).get("rules") or "")
    comments = [line.strip()[1:].strip() for line in rules.splitlines() if line.strip().startswith("%")]
    comments = [c for c in comments if c and not c.startswith("-")]
    if comments:
        lines += ["", "CONSTRAINTS TO SATISFY:", *(f"- {c}" for c in comments)]
    if params["confidence_tracking"] or schema.get("confidence_tracking"):
        lines += ["", "Include confidence scores (0.0-1.0) for each extraction. "
                      "Add a 'confidence' field to each entity and relationship."]
    lines += ["", "Extract according to this schema."]
    return {"extraction_prompt": "\n".join(lines)}
