"""Model access on the hot path: after the catalog has routed a request, the targets its principal may
call (`Principal.access`, from the key index: no query). The rules, and the patterns, are
`services/model_patterns.py`'s: `provider/model` checked as itself (a bare name as what it routes to);
an alias's targets kept, in order, where both the user's and the key's list let it reach them (by the
alias's name, or by the target's); none is a 403 naming the model."""

from __future__ import annotations

from llmgw.errors import ModelNotAllowed
from llmgw.relay.catalog import Target
from llmgw.services.model_patterns import ModelAccess

REFUSAL = (
    "The model {model} is not allowed for this API key: an administrator has limited which models it "
    "may call. The gateway's model list shows those it may."
)


def permitted(
    access: ModelAccess, model: str, targets: tuple[Target, ...], alias: bool
) -> tuple[Target, ...]:
    """The targets of `model` the caller may call; raises ModelNotAllowed (403) when there is none."""
    if not access.restricted:
        return targets
    if alias:
        allowed = tuple(targets[i] for i in access.alias_targets(model, [t.name for t in targets]))
    else:
        allowed = tuple(t for t in targets if access.allows(t.name))
    if not allowed:
        shown = f"`{model}`" if alias or targets[0].name == model else f"`{model}` (`{targets[0].name}`)"
        raise ModelNotAllowed(REFUSAL.format(model=shown), param="model")
    return allowed
