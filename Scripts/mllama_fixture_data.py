"""Inputs of Scripts/make_mllama_fixtures.py: the tokenizer's training text and test corpus,
the chat template, the test images and the prompts."""
from __future__ import annotations

import numpy as np

# ------------------------------------------------------------------ chat template

# Llama 3.2 Vision style: a user turn is `<|start_header_id|>user<|end_header_id|>\n\n` then its
# parts in order (`<|image|>` for an image, the text for a text part), then `<|eot_id|>`. A system
# message is rendered only when no message holds an image (as Llama 3.2 Vision's own template).
CHAT_TEMPLATE = """{{- bos_token -}}
{%- set ns = namespace(has_image=false) -%}
{%- for message in messages -%}
{%- if message['content'] is not string -%}
{%- for part in message['content'] -%}
{%- if part['type'] == 'image' -%}{%- set ns.has_image = true -%}{%- endif -%}
{%- endfor -%}
{%- endif -%}
{%- endfor -%}
{%- for message in messages -%}
{%- if message['role'] != 'system' or not ns.has_image -%}
{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' -}}
{%- if message['content'] is string -%}
{{- message['content'] | trim -}}
{%- else -%}
{%- for part in message['content'] -%}
{%- if part['type'] == 'image' -%}
{{- '<|image|>' -}}
{%- elif part['type'] == 'text' -%}
{{- part['text'] -}}
{%- endif -%}
{%- endfor -%}
{%- endif -%}
{{- '<|eot_id|>' -}}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}
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
    "def main():\n    print('hello, world')\n    return 0\n\nif __name__ == '__main__':\n    main()\n",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 100 1000 12345 3.14159 2026-12-06 +49 (0)30 1234567",
    "Le chat est sur la table. Où est la bibliothèque ? Ça va très bien, merci beaucoup.",
    "Der Hund läuft schnell über die Straße. Grüße aus München!",
    "El niño comió una manzana roja. ¿Dónde está el baño? ¡Muy bien!",
    "日本語のテキストです。画像には赤い円があります。",
    "中文文本：图片中有三个三角形。",
    "Привет, мир! Это тест токенизатора.",
    "Emoji test: 🙂 🚀 ✨ and symbols © ® ™ ± × ÷ → ←",
    "    indented line\n\ttabbed line\n\n\nmultiple newlines   and   spaces",
    "user assistant system image question answer left right top bottom center",
    "The image shows at the top left a small red square; at the left a large purple circle.",
    "Is the blue triangle above or below the yellow star? It is above the star.",
    "I'm sure you'll see it's what we've done, they'd say, and we're done.",
] * 4


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
    " ",
    "",
    "Le chat est sur la table. Où?",
    "Grüße aus München!",
    "¿Dónde está el baño?",
    "日本語のテキスト",
    "中文文本",
    "Привет, мир!",
    "🙂 🚀 ✨",
    "I'm sure you'll see it's THEY'LL",
    "<|begin_of_text|>Hello",
    "<|start_header_id|>user<|end_header_id|>\n\nWhat is this?<|eot_id|>",
    "<|image|>Describe the image.",
    "text <|image|> in the middle",
    "<|python_tag|>print(1)<|eom_id|>",
    "almost special <|start_header_id| and <|not_a_token|>",
    "x" * 40,
    "!!! ??? ... ,,, ;;;",
]

# ------------------------------------------------------------------ images

# file, size, seed; `tiles` is what MllamaImageProcessor makes (checked by the script).
IMAGES = [
    dict(file="tiles1_40x40.png", width=40, height=40, seed=11, tiles=1, model=True),     # upscaled to 56x56
    dict(file="tiles2_142x71.png", width=142, height=71, seed=12, tiles=2, model=True),    # 111x56 (floor of 142·(56/71)), 1x2
    dict(file="tiles3_60x170.png", width=60, height=170, seed=13, tiles=3, model=True),    # 56x158, 3x1
    dict(file="tiles4_130x120.png", width=130, height=120, seed=14, tiles=4, model=True),  # 112x103, 2x2
    dict(file="tiny_7x5.png", width=7, height=5, seed=15, tiles=1, model=False),           # upscaled
    dict(file="large_300x200.png", width=300, height=200, seed=16, tiles=4, model=False),  # downscaled
    dict(file="thin_1x60.png", width=1, height=60, seed=17, tiles=2, model=False),         # not resized
    dict(file="exact_100x50.png", width=100, height=50, seed=18, tiles=2, model=False),    # not resized
    dict(file="pixel_1x1.png", width=1, height=1, seed=19, tiles=1, model=False),
    dict(file="wide_400x3.png", width=400, height=3, seed=20, tiles=4, model=False),
]


def make_image(width: int, height: int, seed: int) -> np.ndarray:
    """Smooth gradients, two solid shapes and pixel noise: textured enough that a wrong
    resampling kernel shows, smooth enough to look like an image. [height, width, 3] uint8."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = x / max(width - 1, 1), y / max(height - 1, 1)
    image = np.stack([
        127.5 + 127.5 * np.sin(2 * np.pi * (1.3 * u + 0.4 * v) + seed),
        255 * (0.7 * u + 0.3 * v),
        127.5 + 127.5 * np.cos(2 * np.pi * (0.5 * u - 1.1 * v)),
    ], axis=-1)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    radius = rng.uniform(0.15, 0.35) * min(width, height) + 0.5
    image[(x - cx) ** 2 + (y - cy) ** 2 <= radius ** 2] = rng.uniform(0, 255, 3)
    x0, y0 = rng.uniform(0, 0.6) * width, rng.uniform(0, 0.6) * height
    box = (x >= x0) & (x < x0 + 0.3 * width + 1) & (y >= y0) & (y < y0 + 0.25 * height + 1)
    image[box] = rng.uniform(0, 255, 3)
    image += rng.normal(0, 14, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


# ------------------------------------------------------------------ prompts

# name, image file (or None), the user message's parts.
PROMPTS = [
    dict(name="tiles1", image="tiles1_40x40.png",
         parts=[{"type": "image"}, {"type": "text", "text": "What is in this image?"}]),
    dict(name="tiles2", image="tiles2_142x71.png",
         parts=[{"type": "image"}, {"type": "text", "text": "How many circles are there?"}]),
    dict(name="tiles3", image="tiles3_60x170.png",
         parts=[{"type": "image"}, {"type": "text", "text": "Describe the picture."}]),
    dict(name="tiles4", image="tiles4_130x120.png",
         parts=[{"type": "image"}, {"type": "text", "text": "Which colour is on the left?"}]),
    dict(name="text_only", image=None,
         parts=[{"type": "text", "text": "Count from one to five."}]),
    dict(name="text_before_image", image="tiles4_130x120.png",
         parts=[{"type": "text", "text": "Look at this: "}, {"type": "image"},
                {"type": "text", "text": " What is it?"}]),
]
