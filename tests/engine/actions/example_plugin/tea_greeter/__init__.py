"""An example third-party action package for TEA Studio.

A package adds actions by declaring an entry point in the ``tea_studio.actions`` group; in its pyproject.toml:

    [project.entry-points."tea_studio.actions"]
    greeter = "tea_greeter:ACTIONS"

The entry point loads an ``Action`` (a schema plus a ``run(params, state, context)`` function) or a list of them.
Parameters are checked against the schema (the validator reports a missing or mistyped one at its line) and
rendered like any ``with:`` before ``run`` is called.
"""

from tea_studio.engine.actions import Action
from tea_studio.workflow.action_schemas import ActionSchema, Param


def greet(params, state, context):
    """Returns a mapping: without `output:` its keys merge into the state."""
    return {"greeting": f"{params['greeting']}, {params['name']}!", "node": context.node}


ACTIONS = [
    Action(ActionSchema("greet.hello", (Param("name", "string", required=True, description="who to greet"),
                                        Param("greeting", "string", default="Hello")),
                        "Greets someone"), greet),
]
