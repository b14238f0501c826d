"""The ``vllm`` backend: an in-process ``vllm.LLM``, every request of a round in one ``generate`` call.

Written against vLLM's documented interface (``LLM``, ``SamplingParams``,
``vllm.inputs.TokensPrompt``, ``RequestOutput``; see README "Running live").
A branch is continued by re-submitting its token ids (prompt + generated), so
there is no re-tokenisation drift, and automatic prefix caching recomputes only
the last partial block; ``cached_tokens`` sums ``RequestOutput.num_cached_tokens``
to show the reuse. Each request gets its own seed per (question, branch,
interval): a continuation re-submitted with the old seed would not resume the
old random stream anyway. ``finish_reason == "stop"`` with ``stop_reason is
None`` is EOS: the branch ended. ``token_ids`` keep the EOS token, and it is
counted, as vLLM's usage counts it. With ``logprobs`` a reasoning request asks
``SamplingParams(logprobs=k)``; each generated token's ``{token id: Logprob}``
(the top ``k``, plus the sampled token where it is not among them) gives its
DeepConf confidence.
"""

from __future__ import annotations

from ttsc.errors import TtscError
from ttsc.runtime.live.env import Completion, Request, token_confidence


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, *, temperature: float = 0.7, top_p: float = 1.0, llm=None, **engine_kwargs):
        try:
            import vllm
            from vllm.inputs import TokensPrompt
        except ImportError:
            raise TtscError("the vllm backend needs vLLM and a GPU: pip install 'ttsc[vllm]'") from None
        self._vllm, self._TokensPrompt = vllm, TokensPrompt
        self.llm = llm if llm is not None else vllm.LLM(model=model, **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.temperature, self.top_p = temperature, top_p
        self._prompt_ids: dict[str, list[int]] = {}
        self._suffix_ids: dict[str, list[int]] = {}
        self.cached_tokens = 0
        self.calls = 0

    def _ids(self, r: Request) -> list[int]:
        if r.prompt not in self._prompt_ids:
            self._prompt_ids[r.prompt] = list(self.tokenizer.encode(r.prompt))
        ids = self._prompt_ids[r.prompt] + list(r.ids or ())
        if r.suffix:
            if r.suffix not in self._suffix_ids:  # tokenised once, without special tokens
                self._suffix_ids[r.suffix] = list(self.tokenizer.encode(r.suffix, add_special_tokens=False))
            ids = ids + self._suffix_ids[r.suffix]
        return ids

    def _params(self, r: Request):
        if r.probe:  # greedy: a probe reads the branch's answer, it does not sample one
            return self._vllm.SamplingParams(temperature=0.0, max_tokens=r.max_tokens, seed=r.sample_seed())
        extra = {"logprobs": r.logprobs} if r.logprobs else {}
        return self._vllm.SamplingParams(temperature=self.temperature, top_p=self.top_p, max_tokens=r.max_tokens,
                                         seed=r.sample_seed(), **extra)

    def generate(self, requests: list[Request]) -> list[Completion]:
        prompts = [self._TokensPrompt(prompt_token_ids=self._ids(r)) for r in requests]
        params = [self._params(r) for r in requests]
        outs = self.llm.generate(prompts, params, use_tqdm=False)
        self.calls += 1
        if len(outs) != len(requests):
            raise TtscError(f"vllm answered {len(outs)} of {len(requests)} requests")
        done = []
        for r, prompt, out in zip(requests, prompts, outs):
            c = out.outputs[0]
            ids = tuple(c.token_ids)
            self.cached_tokens += int(getattr(out, "num_cached_tokens", 0) or 0)
            ended = c.finish_reason == "stop" and c.stop_reason is None
            if c.finish_reason not in ("stop", "length"):
                raise TtscError(f"vllm: question {r.question}, branch {r.slot}: generation ended with "
                                f"finish_reason {c.finish_reason!r}")
            conf = None
            if r.logprobs:
                if c.logprobs is None or len(c.logprobs) != len(ids):
                    raise TtscError(f"vllm: question {r.question}, branch {r.slot}: asked for log-probabilities, "
                                    f"got {'none' if c.logprobs is None else len(c.logprobs)} for {len(ids)} tokens")
                conf = tuple(token_confidence((lp.logprob for lp in top.values()), r.logprobs) for top in c.logprobs)
            done.append(Completion(c.text, ids, len(ids), ended, len(prompt["prompt_token_ids"]), conf))
        return done
