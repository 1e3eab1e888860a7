#!/usr/bin/env python3
"""Capture a causal LM's KV cache as a kevo suite.

Loads a Hugging Face causal LM from a local folder (--model), or builds one with random weights
from a config (--random-config: a preset or a config.json; no weights needed, for exercising the
path), prefills N tokens of text in chunks, then runs T decode steps. For each chosen layer it
writes, post-RoPE and exactly as the model's attention sees them:
  k, v   [B, Hkv, N, D]   the KV cache after the prefill (GQA: the KV heads, not repeated)
  q      [T, B, Hq, D]    the queries of the T decode steps that follow (positions N..N+T-1)
to OUT/layerLL.safetensors (in the model's dtype: bf16, fp16 or fp32), and OUT/suite.yaml, a suite
that `kevo eval FILE.cu --suite OUT/suite.yaml` and `kevo suite-stats OUT/suite.yaml` load as it
is (one workload per layer). kevo's scale is 1/sqrt(D): a model with another softmax scale has
the ratio folded into q, so softmax(q k^T / sqrt(D)) is the model's attention.

Each query attends in kevo to the N prefill tokens only; in the model it also saw itself and the
earlier decode tokens (at most T keys, the newest ones).

Text: --text FILE, or (default) a built-in long document: filler sentences with "access code"
facts planted every few hundred tokens, and after the N tokens a question about one of them, so
the decode queries of a real model retrieve (the needle-in-a-haystack setting of long-context
benchmarks). With --random-config and no --tokenizer the text's UTF-8 bytes are the token ids.

Needs torch and transformers >= 4.48 (the attention interface); CPU works for small configs.
Examples:
  capture_kv.py --model /models/Llama-3.1-8B-Instruct --tokens 32768 --layers 8,16,24 --out cap
  capture_kv.py --random-config llama3-8b-shape --tokens 32768 --out cap-random
"""
import argparse
import contextlib
import importlib.util
import json
import math
import os
import random
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kevo_tensors  # noqa: E402  (standard library only)

# Random-weight configs. llama3-8b-shape has Llama-3-8B's attention (32 query heads over 8 KV
# heads, head dim 128, RoPE theta 500000 with llama3 scaling) in 2 layers and a small vocabulary:
# about 0.7 B parameters, 1.4 GB in bf16. tiny runs on a CPU in seconds.
PRESETS = {
    "llama3-8b-shape": {
        "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336,
        "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
        "num_hidden_layers": 2, "vocab_size": 32000, "max_position_embeddings": 131072,
        "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
    },
    "tiny": {
        "model_type": "llama", "hidden_size": 512, "intermediate_size": 1024,
        "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64,
        "num_hidden_layers": 2, "vocab_size": 512, "max_position_embeddings": 32768,
        "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
    },
}

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="capture_kv.py", description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", metavar="DIR",
                     help="a local Hugging Face model folder (config.json, weights, tokenizer)")
    src.add_argument("--random-config", metavar="PRESET|FILE",
                     help="random weights from a preset (%s) or a config.json (file or folder)"
                          % ", ".join(PRESETS))
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: layerLL.safetensors and suite.yaml")
    p.add_argument("--tokens", type=int, default=32768, metavar="N",
                   help="prefill length N, the cache size of each workload (default 32768)")
    p.add_argument("--decode", type=int, default=8, metavar="T",
                   help="decode steps whose queries are kept (default 8; kevo uses one per call)")
    p.add_argument("--layers", default="auto",
                   help="comma-separated layer indices (negative counts from the end), or 'auto': "
                        "the layers at 1/4, 1/2, 3/4 of the depth and the last (default)")
    p.add_argument("--chunk", type=int, default=4096,
                   help="prefill chunk in tokens: lower it if the prefill runs out of memory "
                        "(default 4096)")
    p.add_argument("--batch", type=int, default=1, metavar="B",
                   help="batch rows, each its own built-in document (default 1)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default=None,
                   help="compute and storage dtype (default: the model's own, bf16 for random)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if present, else cpu)")
    p.add_argument("--text", metavar="FILE", help="UTF-8 text to prefill (default: built-in)")
    p.add_argument("--tokenizer", metavar="DIR",
                   help="tokenizer folder for --random-config (default: bytes as token ids)")
    p.add_argument("--num-layers", type=int, metavar="L",
                   help="with --random-config: override num_hidden_layers")
    p.add_argument("--init-std", type=float, metavar="S",
                   help="with --random-config: initializer_range (the config's, 0.02, by default)")
    p.add_argument("--seed", type=int, default=0, help="seed of the text and random weights")
    p.add_argument("--name", help="suite name (default: captured-<model>-N<N>)")
    p.add_argument("--tolerance", type=float, default=0.05,
                   help="largest relative difference allowed between the model's attention output "
                        "and softmax(q k^T / sqrt(D)) v recomputed from the capture (default 0.05)")
    a = p.parse_args(argv)
    for flag in ("tokens", "decode", "chunk", "batch"):
        if getattr(a, flag) < 1:
            p.error("--%s must be >= 1" % flag)
    if a.text and a.batch != 1:
        p.error("--text gives one batch row; --batch > 1 needs the built-in text")
    if a.model and (a.num_layers or a.init_std or a.tokenizer):
        p.error("--num-layers, --init-std and --tokenizer go with --random-config")
    return a


def log(msg):
    print("capture_kv: " + msg, flush=True)


def fail(msg):
    print("capture_kv: error: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


# ---- text ----------------------------------------------------------------------------------

WORDS = ("the of and to in that it was for on are as with his they at be this from have or one "
         "had by word but not what all were we when your can said there use an each which she do "
         "how their if will up other about out many then them these so some her would make like "
         "him into time has look two more write go see number no way could people my than first "
         "water been call who oil its now find long down day did get come made may part over new "
         "sound take only little work know place year live me back give most very after thing "
         "our just name good sentence man think say great where help through much before line "
         "right too mean old any same tell boy follow came want show also around form three "
         "small set put end does another well large must big even such because turn here why "
         "ask went men read need land different home us move try kind hand picture again change "
         "off play spell air away animal house point page letter mother answer found study still "
         "learn should world high every near add food between own below country plant last "
         "school father keep tree never start city earth eye light thought head under story saw "
         "left few while along might close something seem next hard open example begin life "
         "always those both paper together got group often run important until children side "
         "feet car mile night walk white sea began grow took river four carry state once book "
         "hear stop without second later miss idea enough eat face watch far real almost let "
         "above girl sometimes mountain cut young talk soon list song being leave family").split()


def haystack(rng, n_words):
    """Filler sentences with planted facts; returns (text, facts) where facts maps a locker
    number to its code."""
    parts, facts = [], {}
    words = 0
    while words < n_words:
        if rng.random() < 0.08:
            locker, code = rng.randrange(100, 1000), rng.randrange(10000, 100000)
            facts[locker] = code
            s = "The access code for locker %d is %d." % (locker, code)
        else:
            n = rng.randrange(6, 18)
            s = " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."
        parts.append(s)
        words += len(s.split())
        if rng.random() < 0.1:
            parts.append("\n\n")
    return " ".join(parts), facts


def question(rng, facts):
    locker = rng.choice(sorted(facts)) if facts else 123
    return ("\n\nQuestion: what is the access code for locker %d? Answer: The access code for "
            "locker %d is %d. That is all we know about locker %d and the other lockers."
            % (locker, locker, facts.get(locker, 0), locker))


def byte_tokens(text, vocab):
    if vocab < 257:
        fail("byte-level token ids need a vocabulary of at least 257 (this config has %d)" % vocab)
    return [1 + b for b in text.encode("utf-8")]  # 0 left free (often the pad id)


def token_rows(args, tokenizer, vocab):
    """B lists of N + T token ids: N prefill, T decode."""
    N, T = args.tokens, args.decode
    encode = ((lambda s, first: tokenizer(s, add_special_tokens=first)["input_ids"])
              if tokenizer is not None else (lambda s, first: byte_tokens(s, vocab)))
    if args.text:
        with open(args.text, encoding="utf-8") as f:
            ids = encode(f.read(), True)
        if len(ids) < N + T:
            log("warning: %s has %d tokens, fewer than N + T = %d: repeating it (repeats "
                "make copy-attention, unlike fresh text)" % (args.text, len(ids), N + T))
            ids = (ids * ((N + T) // max(1, len(ids)) + 1))
        return [ids[:N + T]]
    rows = []
    for b in range(args.batch):
        rng = random.Random(args.seed * 1000003 + b)
        n_words = N  # about 1.3 tokens a word with BPE tokenizers, 5 bytes a word as bytes
        while True:
            text, facts = haystack(rng, n_words)
            ids = encode(text, True)
            if len(ids) >= N:
                break
            n_words = int(n_words * 1.5 * N / max(1, len(ids))) + 16
        tail = encode(question(rng, facts), False)
        while len(tail) < T:
            tail += encode(" " + haystack(rng, 64)[0], False)
        rows.append(ids[:N] + tail[:T])
    return rows


# ---- model ---------------------------------------------------------------------------------

def load_model(args, torch, transformers, device):
    """(model, tokenizer or None, description)."""
    kw = {"attn_implementation": "sdpa"}  # the capture hook wraps the SDPA entry
    new_dtype_kw = tuple(int(x) for x in transformers.__version__.split(".")[:2]) >= (4, 56)
    if args.model:
        cfg = transformers.AutoConfig.from_pretrained(args.model)
        dtype = getattr(torch, DTYPES[args.dtype]) if args.dtype else None
        if dtype is None:
            dtype = getattr(cfg, "torch_dtype", None) or getattr(cfg, "dtype", None) or torch.bfloat16
            if isinstance(dtype, str):
                dtype = getattr(torch, dtype)
        kw["dtype" if new_dtype_kw else "torch_dtype"] = dtype
        if importlib.util.find_spec("accelerate") is not None:
            kw["device_map"] = device  # straight to the device, no full copy in host memory
        log("loading %s (%s)" % (args.model, str(dtype).replace("torch.", "")))
        model = transformers.AutoModelForCausalLM.from_pretrained(args.model, **kw)
        tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
        return model, tokenizer, os.path.basename(os.path.normpath(args.model))
    if args.random_config in PRESETS:
        d = dict(PRESETS[args.random_config])
        what = args.random_config
    else:
        path = args.random_config
        if os.path.isdir(path):
            path = os.path.join(path, "config.json")
        if not os.path.isfile(path):
            fail("--random-config %s: not a preset (%s) nor a config.json"
                 % (args.random_config, ", ".join(PRESETS)))
        with open(path) as f:
            d = json.load(f)
        what = os.path.basename(os.path.dirname(os.path.abspath(path))) or "config"
    if args.num_layers:
        d["num_hidden_layers"] = args.num_layers
    if args.init_std:
        d["initializer_range"] = args.init_std
    model_type = d.pop("model_type", None)
    if not model_type:
        fail("--random-config %s: the config has no model_type" % args.random_config)
    cfg = transformers.AutoConfig.for_model(model_type, **d)
    torch.manual_seed(args.seed)
    # Built in fp32 on the device (fast initialisation), then the parameters cast: every
    # transformers version honours that, whatever its dtype keyword is called. Buffers stay fp32
    # as from_pretrained(dtype=...) leaves them: RoPE's inv_freq rounded to bf16 would move the
    # angles at long positions.
    on_device = torch.device(device) if hasattr(torch.device, "__enter__") else contextlib.nullcontext()
    with on_device:
        model = transformers.AutoModelForCausalLM.from_config(cfg, attn_implementation="sdpa")
    dtype = getattr(torch, DTYPES[args.dtype or "bf16"])
    for param in model.parameters():
        param.data = param.data.to(dtype)
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.tokenizer) if args.tokenizer else None
    log("random %s: %d layers, %.1f M parameters" % (
        what, cfg.num_hidden_layers, sum(p.numel() for p in model.parameters()) / 1e6))
    return model, tokenizer, "random-" + what


def choose_layers(spec, n_layers):
    if spec == "auto":
        picks = [n_layers // 4, n_layers // 2, (3 * n_layers) // 4, n_layers - 1]
    else:
        try:
            picks = [int(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            fail("--layers %s: expected comma-separated integers or 'auto'" % spec)
        picks = [l + n_layers if l < 0 else l for l in picks]
        bad = [l for l in picks if not 0 <= l < n_layers]
        if bad or not picks:
            fail("--layers %s: the model has layers 0..%d" % (spec, n_layers - 1))
    return sorted(set(picks))


# ---- capture -------------------------------------------------------------------------------

class Recorder:
    """Wraps the SDPA attention function and keeps, for the chosen layers during decode steps,
    the queries and (at the first step) the cache's keys and values.

    Why the attention function and not the KV cache object plus a recomputed RoPE: it receives
    q, k and v exactly as the model attends with them, after every model-specific step (q/k
    norms, partial rotary, llama3/yarn/longrope scaling), with no per-architecture code here,
    and its key/value are the un-repeated GQA heads of the whole cache. The cache classes'
    layout has changed across transformers releases; this call's signature has not since 4.48."""

    def __init__(self, torch, layers, n_prefill, tolerance):
        self.torch = torch
        self.layers = set(layers)
        self.N = n_prefill
        self.tolerance = tolerance
        self.active = False
        self.step = 0
        self.q = {l: [] for l in layers}
        self.k, self.v, self.fold, self.check = {}, {}, {}, {}
        self.notes = set()

    def wrap(self, orig):
        def attention(module, query, key, value, attention_mask, *args, **kwargs):
            out = orig(module, query, key, value, attention_mask, *args, **kwargs)
            if self.active:
                layer = getattr(module, "layer_idx", None)
                if layer in self.layers:
                    self.observe(layer, module, query, key, value, out, kwargs)
            return out
        return attention

    def observe(self, layer, module, query, key, value, out, kwargs):
        torch = self.torch
        B, Hq, S, D = query.shape
        Hkv = key.shape[1]
        if S != 1:
            fail("layer %d: a decode step saw %d queries per head (expected 1)" % (layer, S))
        if Hq % Hkv:
            fail("layer %d: %d query heads over %d KV heads" % (layer, Hq, Hkv))
        config = getattr(module, "config", None)
        if kwargs.get("softcap") or getattr(config, "attn_logit_softcapping", None):
            self.notes.add("the model soft-caps attention logits; kevo's attention does not")
        if kwargs.get("s_aux") is not None or kwargs.get("sinks") is not None:
            self.notes.add("the model has learned attention sinks; kevo's attention has none")
        scaling = kwargs.get("scaling") or getattr(module, "scaling", None) or D ** -0.5
        fold = float(scaling) * math.sqrt(D)
        if abs(fold - 1.0) < 1e-6:
            fold = 1.0  # Llama-style 1/sqrt(D): q stored untouched
        q = query[:, :, 0, :] if fold == 1.0 else (query[:, :, 0, :].float() * fold).to(query.dtype)
        self.q[layer].append(q.to("cpu"))
        if self.step == 0:
            if key.shape[2] != self.N + 1:
                fail("layer %d sees %d keys at the first decode step, expected N + 1 = %d: a "
                     "sliding-window or static cache (Mistral, Gemma, ...); choose a layer with "
                     "full attention" % (layer, key.shape[2], self.N + 1))
            self.k[layer] = key[:, :, :self.N, :].contiguous().to("cpu")
            self.v[layer] = value[:, :, :self.N, :].contiguous().to("cpu")
            self.fold[layer] = fold
            self.check[layer] = self.compare(query, key, value, out, fold)

    def compare(self, query, key, value, out, fold):
        """Relative difference between the model's attention output for this step and
        softmax(q' k^T / sqrt(D)) v over the same keys (q' the folded query), in fp32."""
        torch = self.torch
        B, Hq, _, D = query.shape
        Hkv = key.shape[1]
        G = Hq // Hkv
        q = (query.float() * fold).reshape(B, Hkv, G, D)              # query head hq = h*G + g
        s = torch.einsum("bhgd,bhnd->bhgn", q, key.float()) / math.sqrt(D)
        ref = torch.einsum("bhgn,bhnd->bhgd", torch.softmax(s, dim=-1), value.float())
        got = out[0] if isinstance(out, tuple) else out                # [B, 1, Hq, D]
        got = got.float().reshape(B, Hq, D).reshape(B, Hkv, G, D)
        return float((got - ref).norm() / ref.norm().clamp_min(1e-30))


def install(recorder, transformers):
    try:
        from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
    except ImportError:
        fail("transformers %s has no attention interface (ALL_ATTENTION_FUNCTIONS): needs >= 4.48"
             % transformers.__version__)
    orig = ALL_ATTENTION_FUNCTIONS["sdpa"]
    # The shared instance's own entry: every model file looks attention up in this one object.
    ALL_ATTENTION_FUNCTIONS["sdpa"] = recorder.wrap(orig)
    return lambda: ALL_ATTENTION_FUNCTIONS.__setitem__("sdpa", orig)


def tensor_bytes(torch, t):
    t = t.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:  # numpy has no bfloat16: its bits as int16
        t = t.view(torch.int16)
    return t.numpy()


def run(args):
    try:
        import torch
        import transformers
    except ImportError as e:
        fail("needs torch and transformers (%s)" % e)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    log("torch %s, transformers %s, device %s" % (torch.__version__, transformers.__version__, device))
    model, tokenizer, model_name = load_model(args, torch, transformers, device)
    if not getattr(model, "hf_device_map", None):  # device_map placed it already
        model = model.to(device)
    model.eval()
    impl = getattr(model.config, "_attn_implementation", None)
    if impl not in (None, "sdpa"):
        fail("the model runs attention as %r; the capture needs 'sdpa'" % impl)
    n_layers = model.config.num_hidden_layers
    layers = choose_layers(args.layers, n_layers)
    N, T = args.tokens, args.decode
    rows = token_rows(args, tokenizer, model.config.vocab_size)
    ids = torch.tensor(rows, dtype=torch.long, device=device)
    dtype = next(model.parameters()).dtype
    log("layers %s of %d; N = %d prefill tokens, T = %d decode queries, B = %d, %s"
        % (layers, n_layers, N, T, len(rows), str(dtype).replace("torch.", "")))

    recorder = Recorder(torch, layers, N, args.tolerance)
    restore = install(recorder, transformers)
    base = model.base_model  # the decoder stack: no LM head, no logits over the vocabulary
    start = time.time()
    try:
        with torch.inference_mode():
            past = None
            for s in range(0, N, args.chunk):
                out = base(input_ids=ids[:, s:min(N, s + args.chunk)], past_key_values=past,
                           use_cache=True)
                past = out.past_key_values
                log("prefill %d/%d tokens (%.1f s)" % (min(N, s + args.chunk), N, time.time() - start))
            recorder.active = True
            for t in range(T):
                recorder.step = t
                out = base(input_ids=ids[:, N + t:N + t + 1], past_key_values=past, use_cache=True)
                past = out.past_key_values
                if t == 0 and set(recorder.k) != set(layers):
                    fail("the attention hook did not run for layers %s: this model (%s) does not "
                         "call attention through transformers' AttentionInterface"
                         % (sorted(set(layers) - set(recorder.k)), type(model).__name__))
            log("decode %d steps (%.1f s)" % (T, time.time() - start))
    finally:
        restore()
    del past, out

    os.makedirs(args.out, exist_ok=True)
    name = args.name or "captured-%s-N%d" % (model_name, N)
    meta_common = {
        "format": "kevo-capture-1", "model": model_name, "prefill_tokens": N, "decode_queries": T,
        "query_positions": "%d..%d" % (N, N + T - 1), "batch": len(rows),
        "dtype": str(dtype).replace("torch.", ""), "torch": torch.__version__,
        "transformers": transformers.__version__,
        "text": args.text or "built-in, seed %d" % args.seed,
        "note": "each query sees the N prefill tokens here; in the model it also saw itself and "
                "the earlier decode tokens",
    }
    st = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}.get(dtype)
    if st is None:
        fail("dtype %s cannot be stored for kevo (bf16, fp16, fp32)" % dtype)
    entries, worst = [], 0.0
    width = len(str(n_layers - 1))
    for layer in layers:
        q = torch.stack(recorder.q[layer])  # [T, B, Hq, D]
        k, v = recorder.k[layer], recorder.v[layer]
        worst = max(worst, recorder.check[layer])
        fname = "layer%0*d.safetensors" % (width, layer)
        meta = dict(meta_common, layer=layer, q_scale_folded=recorder.fold[layer],
                    check_rel_diff="%.3g" % recorder.check[layer])
        kevo_tensors.write_safetensors(os.path.join(args.out, fname), [
            ("q", st, list(q.shape), tensor_bytes(torch, q)),
            ("k", st, list(k.shape), tensor_bytes(torch, k)),
            ("v", st, list(v.shape), tensor_bytes(torch, v))], meta)
        wname = "L%0*d-N%d" % (width, layer, N)
        entries.append({"name": wname, "file": fname})
        log("layer %d: q %s k %s -> %s (check: rel diff %.2g vs the model's attention%s)"
            % (layer, list(q.shape), list(k.shape), fname, recorder.check[layer],
               "" if recorder.fold[layer] == 1.0 else ", q scaled by %.4g" % recorder.fold[layer]))
    comments = [
        "Captured by scripts/capture_kv.py: %s, %s, %s." % (model_name, meta_common["dtype"],
                                                           meta_common["text"]),
        "Per layer: k, v [B, Hkv, N, D] post-RoPE after a prefill of N = %d tokens; q [T, B, Hq, D]"
        % N,
        "of the next T = %d decode steps. kevo perturbs a captured query on every call." % T,
    ] + ["Note: " + n for n in sorted(recorder.notes)]
    yaml_path = os.path.join(args.out, "suite.yaml")
    kevo_tensors.write_suite_yaml(yaml_path, name, entries, comments)
    for n in sorted(recorder.notes):
        log("note: " + n)
    log("wrote %s (%d workload%s)" % (yaml_path, len(entries), "" if len(entries) == 1 else "s"))
    if worst > args.tolerance:
        fail("the capture does not reproduce the model's attention (relative difference %.3g > "
             "--tolerance %.3g): kevo would evaluate on attention the model does not compute"
             % (worst, args.tolerance))


if __name__ == "__main__":
    run(parse_args())
