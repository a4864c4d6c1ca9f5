#!/usr/bin/env python3
"""Write the chat-template reference fixtures for Ponder's Inference tests.

Everything expected by Tests/InferenceTests/ChatTemplate*.swift comes from llama.cpp,
driven through llama-cpp-python's low-level binding (no model is loaded):

  * renders: for every family Ponder supports, each conversation below, rendered with
    `llama_chat_apply_template(name, ...)` with add_ass true and false;
  * templates: real Jinja chat templates (from llama.cpp's models/templates/ and
    tests/test-chat-template.cpp, plus a few written here), each with the family name
    llama.cpp picks for it.

The binding does not expose llm_chat_detect_template, so the detected name is inferred:
the template string is rendered with every conversation and both add_ass values, and
the result is compared with the renders of every built-in template name
(`llama_chat_builtin_templates`). The conversations are chosen so that every supported
name gives a distinct set of renders; the script checks that and stops otherwise. Some
unsupported built-in names render alike (exaone3/exaone4, the granite versions); a
template detected as one of them records the candidates joined by "|". A template that
llama_chat_apply_template rejects (-1) is recorded as detected: null.

Usage:
    python3 Scripts/make_chat_template_fixtures.py --llama-cpp PATH/TO/llama.cpp
where PATH/TO/llama.cpp is the llama.cpp tree vendored by the installed
llama-cpp-python (its vendor/llama.cpp directory).
"""

import argparse
import ctypes
import json
import os
import re
import sys

import llama_cpp

IMAGE_MARKER = "<__media__>"  # mtmd_default_marker() in tools/mtmd/mtmd.cpp

# Families rendered by Ponder (llama.cpp template names).
SUPPORTED = [
    "chatml",
    "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip",
    "mistral-v1", "mistral-v3", "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken",
    "llama3",
    "gemma",
    "smolvlm",
]

CONVERSATIONS = [
    {"id": "empty", "messages": []},
    {"id": "user", "messages": [["user", "Hello"]]},
    {"id": "system-user", "messages": [
        ["system", "You are a helpful assistant"],
        ["user", "Hello"],
    ]},
    {"id": "multi-turn", "messages": [
        ["system", "You are a helpful assistant"],
        ["user", "Hello"],
        ["assistant", "Hi there"],
        ["user", "Who are you"],
        ["assistant", "   I am an assistant   "],
        ["user", "Another question"],
    ]},
    {"id": "multi-turn-no-system", "messages": [
        ["user", "What is 2+2?"],
        ["assistant", "4"],
        ["user", "And 3+3?"],
    ]},
    {"id": "image", "messages": [
        ["system", "Answer briefly."],
        ["user", IMAGE_MARKER + "What shape is in the image?"],
    ]},
    {"id": "image-middle-multi", "messages": [
        ["user", "Look at this:\n" + IMAGE_MARKER + "\nWhat colour is it?"],
        ["assistant", "It is red."],
        ["user", "And this one? " + IMAGE_MARKER],
    ]},
    {"id": "unicode-whitespace", "messages": [
        ["system", "  Réponds en français.\n\tSois bref.  \n"],
        ["user", "\n Ça va ? 日本語 🙂\n\nSecond line\r\n "],
        ["assistant", "\t Très bien — merci ! ✓\n"],
        # no-break space and ideographic space are not trimmed; \v and \f are
        ["user", "\u00a0Encore une fois…\u3000\x0b\x0c\n"],
    ]},
    {"id": "ends-with-assistant", "messages": [
        ["user", "Say hi"],
        ["assistant", "hi"],
    ]},
    {"id": "system-in-middle", "messages": [
        ["system", "First rule."],
        ["user", "Hello"],
        ["assistant", "Hi"],
        ["system", " Second rule. "],
        ["user", "Bye"],
    ]},
]

# Templates from llama.cpp's models/templates/ directory.
TEMPLATE_FILES = [
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "google-gemma-2-2b-it.jinja",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    "microsoft-Phi-3.5-mini-instruct.jinja",
]

# Templates from llama.cpp's tests/test-chat-template.cpp, by test-case name.
TEST_CASES = [
    "teknium/OpenHermes-2.5-Mistral-7B",
    "mistralai/Mistral-7B-Instruct-v0.2 (NOTE: Old pre-v1 without a system prompt)",
    "TheBloke/FusionNet_34Bx2_MoE-AWQ",
    "bofenghuang/vigogne-2-70b-chat",
    "google/gemma-7b-it",
    "Llama-3",
    "Phi-3-mini",
    "mistralai/Mistral-7B-Instruct-v0.2 (mistralai 'v1' template with a system prompt)",
    "Mistral-Large-Instruct-2407 (mistralai 'v3' template; modified to have system prompt at start)",
    "mistralai/Mistral-Large-Instruct-2411 (mistralai 'v7' template)",
    "phi-4",
    "DeepSeek-V2",
]

# Templates written here: families without a file above, and detection-order cases.
WRITTEN = [
    ("SmolVLM-Instruct (representative)",
     "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
     "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
     "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
     "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
     "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"),
    ("Llama-2 with <<SYS>> (representative)",
     "{% for message in messages %}{% if message['role'] == 'system' %}"
     "{{ '[INST] <<SYS>>\\n' + message['content'] + '\\n<</SYS>>\\n\\n' }}"
     "{% elif message['role'] == 'user' %}{{ message['content'] + ' [/INST]' }}"
     "{% else %}{{ ' ' + message['content'] + ' ' + eos_token }}{% endif %}{% endfor %}"),
    ("starts with 'mistral'", "mistral"),
    ("ChatML tokens and [INST]: ChatML is checked first",
     "{{ '<|im_start|>' }}{{ '[INST]' }}"),
    ("Gemma and Llama 3 headers: Gemma is checked first",
     "<start_of_turn>{{ '<|start_header_id|>' }}{{ '<|end_header_id|>' }}"),
    ("Phi-3 tokens and Llama 3 headers: Phi-3 is checked first",
     "<|assistant|><|end|><|start_header_id|><|end_header_id|>"),
    ("[INST] with [SYSTEM_PROMPT] and <<SYS>>: v7 is checked first",
     "[INST] [SYSTEM_PROMPT] <<SYS>>"),
    ("[AVAILABLE_TOOLS] with ' [INST]'", "{{ ' [INST]' }}[AVAILABLE_TOOLS]"),
    ("[AVAILABLE_TOOLS] with \"[INST]\"", "{{ \"[INST]\" }}[AVAILABLE_TOOLS]"),
    ("content.strip() beats bos_token inside history",
     "[INST] <<SYS>> bos_token + '[INST] content.strip()"),
    ("<end_of_utterance> without <|im_start|>", "<end_of_utterance>"),
    ("unknown Jinja", "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"),
    ("empty string", ""),
    ("name with different case", "ChatML"),
]


def builtin_names():
    n = llama_cpp.llama_chat_builtin_templates(None, 0)
    arr = (ctypes.c_char_p * n)()
    llama_cpp.llama_chat_builtin_templates(arr, n)
    return [arr[i].decode() for i in range(n)]


def apply(template, messages, add_ass):
    """Render with llama.cpp; None where llama.cpp rejects the template."""
    chat = (llama_cpp.llama_chat_message * max(len(messages), 1))()
    for i, (role, content) in enumerate(messages):
        chat[i].role = role.encode()
        chat[i].content = content.encode()
    tmpl = template.encode()
    size = 256
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_chat_apply_template(tmpl, chat, len(messages), add_ass, buf, size)
        if n < 0:
            return None
        if n < size:  # strncpy leaves room for the terminating NUL only when n < size
            return buf.raw[:n].decode()
        size = n + 1


def signature(template):
    out = []
    for conv in CONVERSATIONS:
        for add_ass in (True, False):
            r = apply(template, conv["messages"], add_ass)
            if r is None:
                return None
            out.append(r)
    return tuple(out)


def c_unescape(s):
    return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), s)


def test_templates(path):
    src = open(path, encoding="utf-8").read()
    pat = re.compile(
        r'/\* \.name= \*/ "((?:[^"\\]|\\.)*)",\s*'
        r'/\* \.template_str= \*/ (?:u8)?"((?:[^"\\]|\\.)*)"')
    return {c_unescape(m.group(1)): c_unescape(m.group(2)) for m in pat.finditer(src)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--llama-cpp", required=True, help="llama.cpp source tree vendored by llama-cpp-python")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests",
                    "InferenceTests", "Fixtures", "chat_templates", "references.json"))
    args = ap.parse_args()

    names = builtin_names()
    for name in SUPPORTED:
        assert name in names, name
    signatures = {name: signature(name) for name in names}
    by_signature = {}
    for name, sig in signatures.items():
        by_signature.setdefault(sig, []).append(name)
    clashes = [v for v in by_signature.values() if len(v) > 1 and set(v) & set(SUPPORTED)]
    if clashes:
        sys.exit(f"conversations do not tell these built-in templates apart: {clashes}")

    def detect(template):
        sig = signature(template)
        if sig is None:
            return None
        matches = by_signature.get(sig)
        if not matches:
            sys.exit(f"template renders like no built-in name: {template[:80]!r}")
        return "|".join(matches)

    templates = []
    for fname in TEMPLATE_FILES:
        text = open(os.path.join(args.llama_cpp, "models", "templates", fname), encoding="utf-8").read()
        templates.append({"source": "llama.cpp models/templates/" + fname, "template": text})
    tests = test_templates(os.path.join(args.llama_cpp, "tests", "test-chat-template.cpp"))
    for case in TEST_CASES:
        templates.append({"source": "llama.cpp tests/test-chat-template.cpp: " + case, "template": tests[case]})
    for label, text in WRITTEN:
        templates.append({"source": "written: " + label, "template": text})
    # Every built-in name Ponder supports, plus one it does not, given as the template string.
    for name in SUPPORTED + ["phi3", "deepseek3"]:
        templates.append({"source": "name: " + name, "template": name})
    for t in templates:
        t["detected"] = detect(t["template"])

    renders = []
    for name in SUPPORTED:
        for conv in CONVERSATIONS:
            for add_ass in (True, False):
                renders.append({"family": name, "conversation": conv["id"], "add_ass": add_ass,
                                "output": apply(name, conv["messages"], add_ass)})

    doc = {
        "generator": "Scripts/make_chat_template_fixtures.py",
        "llama_cpp_python": llama_cpp.__version__,
        "image_marker": IMAGE_MARKER,
        "builtin_names": names,
        "conversations": CONVERSATIONS,
        "renders": renders,
        "templates": templates,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    for t in templates:
        print(f"{str(t['detected']):18} {t['source']}")
    print(f"{len(renders)} renders, {len(templates)} templates -> {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
