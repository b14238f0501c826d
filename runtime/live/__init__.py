"""Live environments: the environment protocol (``runtime/env.py``) over real generation.

``env.py`` holds the backend-independent rules (intervals, probes, costs); a
backend only generates a batch of requests: ``scripted.py`` (fixed token
streams, for tests), ``openai.py`` (any OpenAI-compatible ``/v1/completions``
server) and ``vllm.py`` (in-process ``vllm.LLM``).
"""
