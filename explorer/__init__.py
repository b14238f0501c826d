"""The explorer: search over .tts programs for controllers with better accuracy–cost frontiers.

``ttsc explore`` proposes candidate programs (texts through the normal front
end), scores each on the search stores by its frontier over the budget knob,
records every candidate append-only, and evaluates the final selection on the
held-out stores once, after the search.
"""
