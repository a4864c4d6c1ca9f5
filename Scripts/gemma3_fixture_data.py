"""Inputs of Scripts/make_gemma3_fixtures.py: the tokenizer's training text and test corpus,
Gemma 3's chat template, the test images and the prompts."""
from __future__ import annotations

from mllama_fixture_data import make_image  # noqa: F401  (the same test-image generator)

# ------------------------------------------------------------------ chat template

# Gemma 3's own template (google/gemma-3-4b-it, the `chat_template` of its tokenizer config), verbatim:
# `<bos>`, a system message folded into the first user turn (its text + "\n\n", not trimmed),
# `<start_of_turn>ROLE\n` (assistant -> model), the parts trimmed (`<start_of_image>` for an
# image), `<end_of_turn>\n`; the generation prompt is `<start_of_turn>model\n`.
CHAT_TEMPLATE = """{{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>\\n' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model\\n'}}
{%- endif -%}
"""

# ------------------------------------------------------------------ tokenizer text

TRAINING_TEXT = [
    "The quick brown fox jumps over the lazy dog. A red circle sits left of a blue square.",
    "How many triangles are there in the image? There are 3 triangles and 12 circles.",
    "<SUMMARY> I will count the shapes. </SUMMARY> <CAPTION> The image shows a green diamond. </CAPTION>",
    "<REASONING> First, the circle is large; then the square is small. </REASONING>",
    "<CONCLUSION> 4 </CONCLUSION> The answer is four. What colour is the largest shape?",
    "Describe the picture in detail, step by step, and explain your reasoning carefully.",
    "You are a careful assistant. Answer briefly and look closely at the picture.",
    "def main():\n    print('hello, world')\n    return 0\n\nif __name__ == '__main__':\n    main()\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 12345 3.14159 2026-12-06 +49 (0)30 1234567",
    "Le chat est sur la table. Où est la bibliothèque ? Ça va très bien, merci beaucoup.",
    "Der Hund läuft schnell über die Straße. Grüße aus München!",
    "El niño comió una manzana roja. ¿Dónde está el baño? ¡Muy bien!",
    "    indented line\n\ttabbed line\n\n\nmultiple newlines   and   spaces",
    "user model system image question answer left right top bottom center",
    "The image shows at the top left a small red square; at the left a large purple circle.",
    "Is the blue triangle above or below the yellow star? It is above the star.",
    "I'm sure you'll see it's what we've done, they'd say, and we're done.",
    "<start_of_turn>user\nWhat is in the image?<end_of_turn>\n<start_of_turn>model\nA circle.<end_of_turn>\n",
    "Question:\n\nAnswer:\n\nThe shapes are red, green and blue.\n\n",
] * 8

TOKENIZER_CORPUS = [
    "Hello world",
    "hello world",
    " Hello  world ",
    "The quick brown fox jumps over the lazy dog.",
    "How many circles are there in the image?",
    "<SUMMARY> count </SUMMARY>",
    "1234567890",
    "3.14159 and 2026-12-06",
    "a1b22c333d4444",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\nnewlines\n\n\nmany",
    "\n",
    "\n\n",
    " ",
    "",
    "Le chat est sur la table. Où?",
    "Grüße aus München!",
    "¿Dónde está el baño?",
    "日本語のテキスト",
    "Привет, мир!",
    "🙂 🚀 ✨",
    "I'm sure you'll see it's THEY'LL",
    "<bos>Hello",
    "<start_of_turn>user\nWhat is this?<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_image><image_soft_token><image_soft_token><end_of_image>",
    "text\n\n<start_of_image> in the middle",
    "almost special <start_of_turn and <not_a_token>",
    "x" * 40,
    "!!! ??? ... ,,, ;;;",
]

# ------------------------------------------------------------------ images

# Two aspect ratios; Gemma 3's processor stretches both to the square input size (no padding,
# no pan-and-scan): the landscape one shrinks in width and grows in height, the portrait one
# the other way round.
IMAGES = [
    dict(name="landscape", file="landscape_240x150.png", width=240, height=150, seed=31),
    dict(name="portrait", file="portrait_96x200.png", width=96, height=200, seed=32),
]


# ------------------------------------------------------------------ prompts

SYSTEM = "You are a careful assistant. Answer briefly."
QUESTION = "Which shapes and colours are in the picture?"

# Model prompts: name, image name (or None), messages. Every one is longer than the sliding window.
PROMPTS = [
    dict(name="text_only", image=None,
         messages=[{"role": "user", "content": [
             {"type": "text", "text": "How many triangles are there? Count them step by step, then answer."}]}]),
    dict(name="image_landscape", image="landscape",
         messages=[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]),
    dict(name="image_portrait", image="portrait",
         messages=[{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]),
    # system folded into the first user turn, the image in it, then a model turn and a second user turn
    dict(name="two_turn", image="landscape",
         messages=[{"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
                   {"role": "user", "content": [{"type": "image"},
                                                {"type": "text", "text": "What is in the image?"}]},
                   {"role": "assistant", "content": [{"type": "text", "text": "A red circle and a blue square."}]},
                   {"role": "user", "content": [{"type": "text", "text": "Which one is on the left?"}]}]),
]

# Text-only conversations whose rendering by llama.cpp's llama_chat_apply_template (built-in
# "gemma" template, picked from the GGUF's tokenizer.chat_template) is recorded next to HF's.
CHATS = [
    dict(name="user", messages=[{"role": "user", "content": "Count from one to five."}]),
    dict(name="system_user", messages=[{"role": "system", "content": SYSTEM},
                                       {"role": "user", "content": "Count from one to five."}]),
    dict(name="user_assistant_user", messages=[{"role": "user", "content": "What is in the image?"},
                                               {"role": "assistant", "content": "A red circle."},
                                               {"role": "user", "content": " Which colour is it? "}]),
]
