"""The built-in renderer's drawing: a stage of layers (backdrop, product cut-out, weather,
light, captions) per frame, from a ``ScenePlan``."""
