#!/usr/bin/env python3
"""Build the tokenizer parity fixtures for Ponder's Inference tests.

Deterministic (seeded). It
  1. generates a training corpus (English-like prose, code, numbers, accents, CJK, emoji),
  2. trains small byte-level BPE vocabularies with `tokenizers` (one per llama.cpp pre-tokenizer
     family) and SentencePiece models with byte fallback with `sentencepiece`,
  3. writes each into a tiny random-weight `llama` GGUF with the `gguf` package,
  4. asks llama.cpp (llama-cpp-python) for reference token ids, pieces, detokenized text and
     end-of-generation ids, and writes them to one JSON file next to the GGUFs.

Usage: python3 Scripts/make_tokenizer_fixtures.py [--out Tests/InferenceTests/Fixtures/tokenizers]
       python3 Scripts/make_tokenizer_fixtures.py --unicode-table LLAMA_CPP_DIR --table-out FILE.swift
Needs: tokenizers, sentencepiece, gguf, numpy, llama-cpp-python.
"""
import argparse
import json
import os
import random
import re
import sys
import tempfile

import numpy as np

SEED = 20240607
N_EMBD = 16
N_FF = 64

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

# --------------------------------------------------------------------------- corpus

WORDS = ("the of and to in is was for on that with as by at from it this be are have not "
         "model token image question answer reason stage caption summary conclusion judge "
         "beam search candidate prompt weights memory kernel matrix vector batch cache "
         "shape circle square triangle red green blue large small left right above below "
         "quick brown fox jumps over lazy dog people world time year day way thing man woman "
         "child life hand part place case week company system program number night point home "
         "water room mother area money story fact month lot right study book eye job word "
         "business issue side kind head house service friend father power hour game line end "
         "member law car city community name president team minute idea kid body information "
         "back parent face others level office door health person art war history party result "
         "change morning reason research girl guy moment air teacher force education").split()
CONTRACTIONS = ["it's", "don't", "we're", "they've", "I'm", "you'll", "she'd", "IT'S", "WE'RE",
                "YOU'LL", "can't", "won't"]
ACCENTED = ("café naïve résumé façade jalapeño über Straße Ærøskøbing crème brûlée señor "
            "déjà vu São Paulo Zürich Kraków Dvořák Ångström coöperate élan").split()
CYRILLIC_GREEK = "привет мир как дела Ελλάδα καλημέρα φίλε".split()
CJK = ["你好世界", "机器学习", "图像理解", "東京タワー", "ありがとう", "こんにちは", "안녕하세요",
       "한국어", "中文分词测试", "日本語のテキスト"]
EMOJI = ["😀", "🚀", "🎉", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🤖", "🧠", "✨"]
CODE = [
    "def forward(self, x):\n    return self.linear(x) + 1\n",
    "for (int i = 0; i < n; ++i) { sum += a[i] * b[i]; }\n",
    "let tokens = tokenizer.encode(text, addSpecial: true)\n",
    "if x != None and y >= 10:\n\tprint(f\"{x=} {y!r}\")\n",
    "{\"name\": \"ponder\", \"version\": \"0.1.0\", \"tags\": [\"vlm\", \"cli\"]}\n",
    "SELECT id, name FROM users WHERE age > 21 ORDER BY name;\n",
    "<div class=\"row\"><span>#42</span></div>\n",
    "x = [i ** 2 for i in range(100) if i % 3 == 0]\n",
]


SYLLABLE_ONSETS = ["", "b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n",
                   "p", "pl", "qu", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z"]
SYLLABLE_NUCLEI = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
SYLLABLE_CODAS = ["", "", "n", "r", "s", "t", "l", "ng", "ck", "m"]


def pseudo_word(rng):
    """A pronounceable made-up word, so the BPE trainer has enough distinct words for thousands of merges."""
    return "".join(rng.choice(SYLLABLE_ONSETS) + rng.choice(SYLLABLE_NUCLEI) + rng.choice(SYLLABLE_CODAS)
                   for _ in range(rng.randint(1, 3)))


def make_corpus(rng, n_lines=12000):
    lines = []
    lexicon = [pseudo_word(rng) for _ in range(3000)]
    for _ in range(n_lines):
        kind = rng.random()
        if kind < 0.25:
            n = rng.randint(4, 14)
            s = " ".join(rng.choice(lexicon) if rng.random() < 0.7 else rng.choice(WORDS) for _ in range(n))
            lines.append(s[0].upper() + s[1:] + rng.choice([".", "!", "?", ",", ";", ":", "..."]))
        elif kind < 0.55:
            n = rng.randint(4, 18)
            ws = [rng.choice(WORDS) for _ in range(n)]
            if rng.random() < 0.3:
                ws.insert(rng.randint(0, len(ws)), rng.choice(CONTRACTIONS))
            if rng.random() < 0.2:
                ws.insert(rng.randint(0, len(ws)), str(rng.randint(0, 10 ** rng.randint(1, 7))))
            s = " ".join(ws)
            s = s[0].upper() + s[1:] + rng.choice([".", "!", "?", ",", ";", ":", "..."])
            lines.append(s)
        elif kind < 0.65:
            lines.append(rng.choice(CODE))
        elif kind < 0.72:
            lines.append(" ".join(str(rng.randint(0, 10 ** rng.randint(1, 9))) +
                                  rng.choice(["", ".5", ",000", "%", " km"]) for _ in range(5)))
        elif kind < 0.82:
            lines.append(" ".join(rng.choice(ACCENTED + CYRILLIC_GREEK + WORDS) for _ in range(8)))
        elif kind < 0.92:
            lines.append("".join(rng.choice(CJK) for _ in range(3)) + rng.choice(["。", "，", "！", ""]))
        else:
            lines.append(" ".join(rng.choice(WORDS + EMOJI) for _ in range(6)))
    return lines


# Reference strings: every one is tokenized by llama.cpp in each vocabulary and mode.
TEST_STRINGS = [
    "", " ", "  ", "\n", "\n\n\n", "\t", " \t \n ", "Hello", "Hello world", " Hello world",
    "Hello world ", "  leading and trailing  ", "Hello, world! How are you?",
    "The quick brown fox jumps over the lazy dog.", "a  b   c    d", "line one\nline two\r\nline three\n",
    "tabs\tand\tmore\t\ttabs", "trailing newline\n\n", "ends with spaces   ",
    "It's we're they've I'm you'll she'd don't", "IT'S WE'RE YOU'LL 'S 'Re 'lL", "'s 'll 'd",
    "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789",
    "1234567890", "12345678901", "123456789012", "3.14159", "1,234,567.89", "10 000 000",
    "-42 +7 1e-5 0x1F", "v1.2.3 (2024-06-07) 12:30:45", "$100.00 and 50% off",
    "café naïve résumé façade", "Straße über Zürich", "São Paulo, Kraków, Dvořák",
    "привет мир", "Ελλάδα καλημέρα", "你好世界", "机器学习和图像理解", "東京タワーへようこそ",
    "안녕하세요 세계", "😀", "🚀🎉", "👍🏽 ok", "👨‍👩‍👧‍👦 family", "🏳️‍🌈", "❤️ love",
    "mixed: abc 你好 123 😀 café!", "Ünïcödé ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", "e\u0301 combining",
    "\u00a0nbsp\u2003em\u3000ideographic", "zero\u200bwidth", "x\u0085y\u2028z",
    "def f(x):\n    return x ** 2  # square\n", "if (a && b) { return c[0]; }",
    "{\"key\": [1, 2, 3], \"ok\": true}", "<div class=\"a\">text</div>", "!!!???...,,,;;;",
    "quokka quokkas Ponder ponder", " zyzzyva", "Ω omega",
    "<|begin_of_text|>Hello<|eot_id|>",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is in the image?<|eot_id|>",
    "<|im_start|>user\nDescribe the picture.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "text<|endoftext|>more text", "<tool_call>{\"a\": 1}</tool_call>",
    "User:<image>What shape?<end_of_utterance>\nAssistant:",
    "<s>[INST] Hi there [/INST] Hello!</s>", "<s><s>", "</s> tail", "<unk> unknown",
    "<|startoftext|>start", "<|user|> marker <|user|>",
    " <|eot_id|> spaced <|im_end|> ",
]


RANDOM_POOL = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3 + list("0123456789") * 3
               + list(" " * 12) + list("\t\n\r") + list(".,;:!?'\"()[]{}<>|/\\-_=+*&^%$#@~`")
               + ["'s", "'LL", "'re", "\u00a0", "\u3000", "\u2003", "\u0085", "é", "ü", "ñ", "ß", "Ø", "e\u0301",
                  "你", "好", "学", "タ", "ワ", "한", "ا", "ب", "α", "Ж", "€", "©", "±", "½", "²", "٣", "🙂", "👍🏽",
                  "\u200d", "\ufe0f", "👨\u200d👩", "<|", "|>", "<s>", "</s>", "<|endoftext|>", "<|im_end|>",
                  "<|eot_id|>", "<|user|>", "<tool_call>", "quokka", " Ponder"])


def random_strings(count=150, seed=SEED + 1):
    """Seeded random strings over a pool of every character class the pre-tokenizers care about."""
    rng = random.Random(seed)
    return ["".join(rng.choice(RANDOM_POOL) for _ in range(rng.randint(1, 40))) for _ in range(count)]


# --------------------------------------------------------------------------- BPE families

BPE_FAMILIES = [
    # name, pre, training split pattern(s), specials at start?, controls, user-defined, flags
    dict(name="llama-bpe", pre="llama-bpe", pattern=LLAMA3_PATTERN, specials_first=False,
         control=["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                  "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>"],
         user=[], bos="<|begin_of_text|>", eos="<|eot_id|>", eot="<|eot_id|>", pad=None,
         add_bos=True, add_eos=None,
         template="{{- bos_token }}{%- for message in messages %}<|start_header_id|>{{ message['role'] }}"
                  "<|end_header_id|>\n\n{{ message['content'] | trim }}<|eot_id|>{%- endfor %}"
                  "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{%- endif %}"),
    dict(name="qwen2", pre="qwen2", pattern=QWEN2_PATTERN, specials_first=False,
         control=["<|endoftext|>", "<|im_start|>", "<|im_end|>"], user=["<tool_call>", "</tool_call>"],
         bos="<|endoftext|>", eos="<|im_end|>", eot=None, pad="<|endoftext|>", add_bos=False, add_eos=None,
         template="{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
                  "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"),
    dict(name="smollm", pre="smollm", pattern=[r"\p{N}", GPT2_PATTERN], specials_first=True,
         control=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<file_sep>",
                  "<end_of_utterance>"], user=["<image>"],
         bos="<|im_start|>", eos="<end_of_utterance>", eot=None, pad="<|endoftext|>", add_bos=False,
         add_eos=None,
         template="<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}:"
                  "{{ message['content'] }}<end_of_utterance>\n{% endfor %}"
                  "{% if add_generation_prompt %}Assistant:{% endif %}"),
    dict(name="gpt-2", pre="gpt-2", pattern=GPT2_PATTERN, specials_first=False,
         control=["<|endoftext|>"], user=[], bos="<|endoftext|>", eos="<|endoftext|>", eot=None,
         pad=None, add_bos=False, add_eos=None, drop_bytes=[0x9F], template=None),
    dict(name="default", pre="default", pattern=GPT2_PATTERN, specials_first=True,
         control=["<|startoftext|>", "<|endoftext|>"], user=["<|user|>"],
         bos="<|startoftext|>", eos="<|endoftext|>", eot=None, pad=None, add_bos=True, add_eos=True,
         odd_tokens=["Ω"], template="{% for message in messages %}{{ message['content'] }}\n{% endfor %}"),
    dict(name="no-pre", pre=None, pattern=GPT2_PATTERN, specials_first=False,
         control=["<|endoftext|>"], user=[], bos=None, eos="<|endoftext|>", eot=None, pad=None,
         add_bos=None, add_eos=None, template=None),
]
# Normal tokens that no merge produces: llama.cpp only reaches them when it ignores merges.
UNREACHABLE_WORDS = ["Ġquokka", "quokka", "ĠPonder", "Ġzyzzyva"]


def bytes_to_unicode():
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


def train_bpe(fam, corpus, vocab_size):
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    patterns = fam["pattern"] if isinstance(fam["pattern"], list) else [fam["pattern"]]
    steps = [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]
    steps.append(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence(steps)
    specials = fam["control"] + fam["user"] if fam["specials_first"] else []
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    model = json.loads(tok.to_str())["model"]
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]

    for extra in UNREACHABLE_WORDS + fam.get("odd_tokens", []):
        if extra not in tokens:
            tokens.append(extra)
    if not fam["specials_first"]:
        tokens += fam["control"] + fam["user"]
    for byte in fam.get("drop_bytes", []):
        ch = bytes_to_unicode()[byte]
        tokens = [t for t in tokens if ch not in t]
        merges = [m for m in merges if ch not in m]
    types = [3 if t in fam["control"] else 4 if t in fam["user"] else 1 for t in tokens]
    return tokens, types, merges


def train_spm(corpus, workdir, name, model_type, vocab_size, add_dummy_prefix):
    import sentencepiece as spm

    prefix = os.path.join(workdir, name)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_prefix=prefix, vocab_size=vocab_size,
        model_type=model_type, byte_fallback=True, character_coverage=0.9995,
        normalization_rule_name="identity", remove_extra_whitespaces=False,
        add_dummy_prefix=add_dummy_prefix, split_digits=True, allow_whitespace_only_pieces=True,
        user_defined_symbols=["<|user|>"], unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=1, minloglevel=2, shuffle_input_sentence=False)
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(2)
        elif sp.is_control(i):
            types.append(3)
        elif sp.is_unused(i):
            types.append(5)
        elif sp.is_byte(i):
            types.append(6)
        elif tokens[-1] == "<|user|>":
            types.append(4)
        else:
            types.append(1)
    return tokens, scores, types


# --------------------------------------------------------------------------- GGUF

def write_gguf(path, name, rng, tokenizer_keys, n_vocab):
    import gguf

    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    w.add_context_length(256)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(1)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(4)
    w.add_head_count_kv(4)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // 4)
    w.add_vocab_size(n_vocab)
    tokenizer_keys(w)

    def tensor(name, shape, dtype=np.float16):
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(dtype))

    tensor("token_embd.weight", (n_vocab, N_EMBD))
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("blk.0.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    w.add_tensor("blk.0.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    for t in ("attn_q", "attn_k", "attn_v", "attn_output"):
        tensor(f"blk.0.{t}.weight", (N_EMBD, N_EMBD))
    tensor("blk.0.ffn_gate.weight", (N_FF, N_EMBD))
    tensor("blk.0.ffn_up.weight", (N_FF, N_EMBD))
    tensor("blk.0.ffn_down.weight", (N_EMBD, N_FF))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def bpe_keys(fam, tokens, types, merges):
    def ident(text):
        return tokens.index(text)

    def keys(w):
        w.add_tokenizer_model("gpt2")
        if fam["pre"] is not None:
            w.add_tokenizer_pre(fam["pre"])
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        for key, adder in (("bos", w.add_bos_token_id), ("eos", w.add_eos_token_id),
                           ("eot", w.add_eot_token_id), ("pad", w.add_pad_token_id)):
            if fam[key] is not None:
                adder(ident(fam[key]))
        if fam["add_bos"] is not None:
            w.add_add_bos_token(fam["add_bos"])
        if fam["add_eos"] is not None:
            w.add_add_eos_token(fam["add_eos"])
        if fam["template"]:
            w.add_chat_template(fam["template"])
    return keys


def spm_keys(tokens, scores, types, add_space_prefix, add_eos):
    def keys(w):
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_scores(scores)
        w.add_token_types(types)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_unk_token_id(0)
        w.add_add_bos_token(True)
        w.add_add_eos_token(add_eos)
        w.add_add_space_prefix(add_space_prefix)
        w.add_chat_template("{% for message in messages %}{% if message['role'] == 'user' %}"
                            "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% else %}"
                            "{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}")
    return keys


# --------------------------------------------------------------------------- llama.cpp references

MODES = [("special", True, True), ("plain", True, False), ("bare", False, True)]


class LlamaVocab:
    """A vocab-only llama.cpp model opened through llama-cpp-python's low-level API."""

    def __init__(self, path):
        import ctypes
        import llama_cpp

        self.c, self.ctypes = llama_cpp, ctypes
        llama_cpp.llama_backend_init()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        self.model = llama_cpp.llama_model_load_from_file(path.encode(), params)
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.n_tokens = llama_cpp.llama_vocab_n_tokens(self.vocab)

    def tokenize(self, text, add_special, parse_special):
        data = text.encode("utf-8")
        n_max = len(data) + 8
        buf = (self.c.llama_token * n_max)()
        n = self.c.llama_tokenize(self.vocab, data, len(data), buf, n_max, add_special, parse_special)
        assert n >= 0, "token buffer too small"
        return list(buf[:n])

    def piece(self, token, special):
        buf = self.ctypes.create_string_buffer(512)
        n = self.c.llama_token_to_piece(self.vocab, token, buf, 512, 0, special)
        assert 0 <= n <= 512
        return buf.raw[:n]

    def detokenize(self, tokens, remove_special, unparse_special):
        arr = (self.c.llama_token * max(1, len(tokens)))(*tokens)
        size = 64 + 64 * len(tokens)
        buf = self.ctypes.create_string_buffer(size)
        n = self.c.llama_detokenize(self.vocab, arr, len(tokens), buf, size, remove_special, unparse_special)
        assert 0 <= n <= size
        return buf.raw[:n]

    def info(self):
        c, v = self.c, self.vocab
        return dict(
            n_tokens=self.n_tokens, bos=c.llama_vocab_bos(v), eos=c.llama_vocab_eos(v),
            eot=c.llama_vocab_eot(v), pad=c.llama_vocab_pad(v),
            add_bos=bool(c.llama_vocab_get_add_bos(v)), add_eos=bool(c.llama_vocab_get_add_eos(v)),
            end_of_generation=[t for t in range(self.n_tokens) if c.llama_vocab_is_eog(v, t)],
            attributes=[int(c.llama_vocab_get_attr(v, t)) for t in range(self.n_tokens)])

    def close(self):
        self.c.llama_model_free(self.model)


def references(path):
    lv = LlamaVocab(path)
    entry = lv.info()
    entry["pieces"] = [lv.piece(t, True).hex() for t in range(lv.n_tokens)]
    entry["pieces_without_special"] = {}
    for t in range(lv.n_tokens):
        plain = lv.piece(t, False).hex()
        if plain != entry["pieces"][t]:
            entry["pieces_without_special"][str(t)] = plain
    cases = []
    for text in TEST_STRINGS:
        case = {name: lv.tokenize(text, add, parse) for name, add, parse in MODES}
        case["detokenized_special"] = lv.detokenize(case["special"], False, True).hex()
        case["detokenized_plain"] = lv.detokenize(case["special"], True, False).hex()
        cases.append(case)
    entry["cases"] = cases
    entry["random_cases"] = [lv.tokenize(text, True, True) for text in random_strings()]
    lv.close()
    return entry


# --------------------------------------------------------------------------- unicode table

def emit_unicode_table(llama_cpp_dir, out_path):
    """Writes llama.cpp's codepoint category ranges (unicode-data.cpp) as a Swift table."""
    src = open(os.path.join(llama_cpp_dir, "src", "unicode-data.cpp"), encoding="utf-8").read()
    body = src.split("unicode_ranges_flags = {", 1)[1].split("};", 1)[0]
    ranges = [(int(a, 16), int(b, 16) & 0xFF) for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", body)]
    merged = []
    for start, flags in ranges:
        if merged and merged[-1][1] == flags:
            continue
        merged.append((start, flags))
    lines = ["// Generated by Scripts/make_tokenizer_fixtures.py --unicode-table from llama.cpp's",
             "// src/unicode-data.cpp. Do not edit by hand.", "",
             "extension UnicodeCategories {",
             "    /// Each entry is `start << 8 | categoryFlags`; a range runs to the next start.",
             "    static let rangeTable: [UInt32] = ["]
    row = []
    for start, flags in merged:
        row.append(f"0x{(start << 8) | flags:08X}")
        if len(row) == 8:
            lines.append("        " + ", ".join(row) + ",")
            row = []
    if row:
        lines.append("        " + ", ".join(row) + ",")
    lines += ["    ]", "}", ""]
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"wrote {len(merged)} ranges to {out_path}")


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Tests/InferenceTests/Fixtures/tokenizers")
    ap.add_argument("--unicode-table", metavar="LLAMA_CPP_DIR")
    ap.add_argument("--table-out", default="Sources/Inference/Tokenizer/UnicodeCategories+Table.swift")
    args = ap.parse_args()
    if args.unicode_table:
        emit_unicode_table(args.unicode_table, args.table_out)
        return

    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(SEED)
    corpus = make_corpus(rng)
    weights_rng = np.random.default_rng(SEED)
    fixture = {"strings": TEST_STRINGS, "random_strings": random_strings(), "modes": {n: [a, p] for n, a, p in MODES}, "vocabularies": []}

    for fam in BPE_FAMILIES:
        tokens, types, merges = train_bpe(fam, corpus, 4000)
        file = f"bpe-{fam['name']}.gguf"
        write_gguf(os.path.join(args.out, file), f"bpe-{fam['name']}", weights_rng,
                   bpe_keys(fam, tokens, types, merges), len(tokens))
        fixture["vocabularies"].append({"name": fam["name"], "file": file, "model": "gpt2"})

    with tempfile.TemporaryDirectory() as tmp:
        for name, model_type, size, prefix, add_eos in (("spm-bpe", "bpe", 3000, True, False),
                                                        ("spm-unigram", "unigram", 2000, False, True)):
            tokens, scores, types = train_spm(corpus, tmp, name, model_type, size, prefix)
            file = f"{name}.gguf"
            write_gguf(os.path.join(args.out, file), name, weights_rng,
                       spm_keys(tokens, scores, types, prefix, add_eos), len(tokens))
            fixture["vocabularies"].append({"name": name, "file": file, "model": "llama"})

    for entry in fixture["vocabularies"]:
        entry.update(references(os.path.join(args.out, entry["file"])))
        sizes = os.path.getsize(os.path.join(args.out, entry["file"]))
        print(f"{entry['file']}: {entry['n_tokens']} tokens, {sizes // 1024} KiB")

    with open(os.path.join(args.out, "references.json"), "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print(f"{len(fixture['vocabularies'])} vocabularies x {len(TEST_STRINGS)} strings x {len(MODES)} modes")


if __name__ == "__main__":
    sys.exit(main())
