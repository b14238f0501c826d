"""A stand-in for vLLM's documented call surface (``LLM``, ``SamplingParams``, ``RequestOutput``).

It refuses anything the real interface would not take: unknown ``LLM`` or
``SamplingParams`` arguments, prompts that are not ``TokensPrompt``s or
strings, a params list not one-to-one with the prompts, ``prompt_logprobs``
(it bypasses the prefix cache), ``logprobs`` above the engine's ``max_logprobs``
(20 unless set). With ``logprobs=k`` each output token gets vLLM's
``{token id: Logprob}``: the top ``k`` and the sampled token (rank 1 here, so
``k`` entries; token ``t`` of the script at position ``i`` has top log-probabilities
``-(j + 1) * (1 + i % 3) / 10`` for rank ``j + 1``). Its model writes ``length`` reasoning tokens
(id 1000), then ``\\boxed{4}`` and EOS (id 2); asked to complete a probe suffix
it writes ``4}`` and EOS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vllm.inputs import TokensPrompt

EOS, REASON = 2, 1000
_LLM_KW = {"tensor_parallel_size", "seed", "gpu_memory_utilization", "dtype", "max_model_len",
           "enable_prefix_caching", "max_num_seqs", "max_logprobs", "structured_outputs_config",
           "logits_processors", "tokenizer", "trust_remote_code"}
_SP_KW = {"n", "temperature", "top_p", "top_k", "seed", "stop", "max_tokens", "min_tokens", "logprobs",
          "skip_special_tokens", "prompt_logprobs", "structured_outputs"}
calls: list[tuple[list, list]] = []  # every generate call, for the tests


class SamplingParams:
    def __init__(self, **kw: Any):
        unknown = set(kw) - _SP_KW
        if unknown:
            raise TypeError(f"SamplingParams got unexpected keyword arguments {sorted(unknown)}")
        if kw.get("prompt_logprobs") is not None:
            raise AssertionError("prompt_logprobs bypasses the prefix cache")
        defaults = dict(n=1, temperature=1.0, top_p=1.0, top_k=0, seed=None, stop=None, max_tokens=16, logprobs=None)
        self.__dict__.update({**defaults, **kw})


@dataclass
class Logprob:
    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


def _logprobs(position: int, token: int, k: int) -> dict[int, Logprob]:
    """The sampled token first (rank 1), then k - 1 others."""
    scale = (1 + position % 3) / 10
    return {(token if j == 0 else 5000 + j): Logprob(-(j + 1) * scale, j + 1) for j in range(k)}


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    cumulative_logprob: float | None
    logprobs: Any
    finish_reason: str | None
    stop_reason: int | str | None = None


@dataclass
class RequestOutput:
    request_id: str
    prompt: str | None
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput]
    finished: bool = True
    num_cached_tokens: int = 0


class _Tokenizer:
    """One token per character; id 1000 decodes to " r"."""

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return ([1] if add_special_tokens else []) + [ord(c) for c in text]

    def decode(self, ids) -> str:
        return "".join(" r" if i == REASON else "" if i in (1, EOS) else chr(i) for i in ids)


@dataclass
class LLM:
    model: str
    length: int = 30
    kwargs: dict = field(default_factory=dict)

    def __init__(self, model: str, **kw: Any):
        unknown = set(kw) - _LLM_KW
        if unknown:
            raise TypeError(f"LLM got unexpected keyword arguments {sorted(unknown)}")
        self.model, self.kwargs, self.length = model, kw, 30
        self.max_logprobs = kw.get("max_logprobs", 20)
        self._seen: list[list[int]] = []

    def get_tokenizer(self) -> _Tokenizer:
        return _Tokenizer()

    def generate(self, prompts, sampling_params=None, use_tqdm: bool = True, **kw) -> list[RequestOutput]:
        if kw:
            raise TypeError(f"generate got unexpected keyword arguments {sorted(kw)}")
        if not isinstance(prompts, list):
            prompts = [prompts]
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError("The lengths of prompts and sampling_params must be the same.")
        for sp in params:
            if sp.logprobs is not None and sp.logprobs > self.max_logprobs:
                raise ValueError(f"Requested sample logprobs of {sp.logprobs}, which is greater than max allowed: "
                                 f"{self.max_logprobs}")
        calls.append((prompts, params))
        return [self._one(i, p, sp) for i, (p, sp) in enumerate(zip(prompts, params))]

    def _one(self, i: int, prompt, sp: SamplingParams) -> RequestOutput:
        if isinstance(prompt, dict):
            ids = list(prompt["prompt_token_ids"])
        elif isinstance(prompt, str):
            ids = _Tokenizer().encode(prompt)
        else:
            raise TypeError(f"prompt must be a str or TokensPrompt, got {type(prompt).__name__}")
        cached = max((_common(ids, s) for s in self._seen), default=0) // 16 * 16
        self._seen.append(ids)
        tok = _Tokenizer()
        probe = tok.decode(ids).endswith("\\boxed{")
        start = 0  # position of the first output token in its branch
        if probe:
            out = [ord("4"), ord("}"), EOS][: sp.max_tokens]
        else:
            script = [REASON] * self.length + [ord(c) for c in " \\boxed{4}"] + [EOS]
            done = len(ids) - ids.index(REASON) if REASON in ids else 0  # generated so far
            out = script[done: done + sp.max_tokens]
            start = done
        finish = "stop" if out and out[-1] == EOS else "length"
        lps = None if sp.logprobs is None else [_logprobs(start + n, t, max(1, sp.logprobs)) for n, t in enumerate(out)]
        return RequestOutput(str(i), None, ids, [CompletionOutput(0, tok.decode(out), out, None, lps, finish)],
                             num_cached_tokens=cached)


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
