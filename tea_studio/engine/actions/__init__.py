"""Actions: named operations a node runs with ``uses:`` (or the Rust spelling ``action:``), e.g. ``llm.call``.

Entry points for the rest of the engine: :func:`run_action` runs one by name on a state, :func:`node_update`
turns its result into the node's state update, :class:`ActionContext` carries the run around the call.
"""

from tea_studio.engine.actions.context import ActionContext, ActionError, ActionStopped
from tea_studio.engine.actions.registry import Action, get_action, node_update, render_params, run_action

__all__ = ["Action", "ActionContext", "ActionError", "ActionStopped", "get_action", "node_update", "render_params",
           "run_action"]
