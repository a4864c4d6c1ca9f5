"""Records beyond one question: conversations of two or three questions about one image, and
the self judge's comparison prompts, deterministic by seed.

Conversations are asked as Ponder's chat asks a follow-up: every earlier question with its
answer's conclusion as the assistant turn, the image in front of the first question; only the
last answer is trained on. Judge records are the prompts Ponder's self judge builds (SelfJudge
in Sources/Reasoning): the question, the stages already written, the stage's criterion and two
candidates, one right and one wrong (the same question answered about the scene with one shape
changed, or another question's summary), answered `1` or `2`.
"""
from __future__ import annotations

import copy

import numpy as np

import questions as qs
import scenes

STAGES = ["summary", "caption", "reasoning", "conclusion"]
# SelfJudge.criterion(for:), word for word.
CRITERIA = {
    "summary": "A good summary lays out how the question will be approached, step by step, without already solving it.",
    "caption": "A good caption describes, thoroughly and accurately, what in the image matters for answering the "
               "question, and nothing it cannot see.",
    "reasoning": "First check each response's reasoning against the image and the description: is every step "
                 "correct? Then prefer the sounder reasoning with fewer errors that leads toward an answer.",
    "conclusion": "A good conclusion follows from the reasoning, answers the question directly, and does not refuse.",
}
JUDGE_STAGE_WEIGHTS = [0.1, 0.35, 0.35, 0.2]


def judge_instruction(question, history, stage, first, second):
    """SelfJudge.instruction for two candidates that follow the same accepted stages."""
    text = f"Question: {question}\n"
    for name, accepted in history:
        text += f"Already written {name}: {accepted}\n"
    text += f"You are comparing two possible {stage} stages of an answer to this question about the image.\n"
    text += CRITERIA[stage] + "\n"
    text += f"Response 1: {first.strip()}\nResponse 2: {second.strip()}\n"
    return text + "Which response is better? Answer with the number only: 1 or 2."


def _specs(objs, kinds, rng):
    """One spec per kind that fits the scene, no question twice; None if one does not fit."""
    specs, seen = [], set()
    for k in kinds:
        for _ in range(8):
            spec = qs.make_spec(objs, k, rng)
            if spec is not None and qs.question_text(spec) not in seen:
                break
        else:
            return None
        seen.add(qs.question_text(spec))
        specs.append(spec)
    return specs


def conversation(rng, turns, specs_out=None):
    """(objs, image, [(question, answer, conclusion, kind)] * turns): questions about one scene.
    Only the first may be `extreme`, which resizes the shapes before anything is answered. The
    specs are appended to `specs_out` when given."""
    while True:
        objs = scenes.make_scene(rng)
        kinds = [str(rng.choice(qs.KINDS))] + [str(rng.choice([k for k in qs.KINDS if k != "extreme"]))
                                               for _ in range(turns - 1)]
        specs = _specs(objs, kinds, rng)
        if specs is None:
            continue
        out = []
        if specs_out is not None:
            specs_out.extend(specs)
        for spec in specs:
            answer, conclusion = qs.answer_of(spec, objs)
            out.append((qs.question_text(spec), answer, conclusion, spec["kind"]))
        return objs, scenes.render(objs, rng), out


def changed_scene(objs, rng):
    """A copy of `objs` with one shape's colour, shape or size changed, or (sometimes) one shape
    left out."""
    new = copy.deepcopy(objs)
    if len(new) > 1 and rng.random() < 0.2:
        del new[int(rng.integers(len(new)))]
        return new
    o = new[int(rng.integers(len(new)))]
    what = str(rng.choice(["colour", "shape", "colour", "shape", "size"]))
    if what == "colour":
        o["colour"] = str(rng.choice([c for c in qs.COLOURS if c != o["colour"]]))
    elif what == "shape":
        o["shape"] = str(rng.choice([s for s in qs.SHAPES if s != o["shape"]]))
    else:
        o["size"] = "small" if o["size"] == "large" else "large"
    return new


def wrong_stage(stage, spec, objs, rng):
    """A wrong candidate for `stage` of `spec`'s answer, or None when none was found."""
    right_reasoning, right_conclusion = qs.solve(spec, objs)
    for _ in range(12):
        if stage == "summary":
            other = qs.make_spec(copy.deepcopy(objs), str(rng.choice(qs.KINDS)), rng)
            text = other and qs.summary_text(other)
            right = qs.summary_text(spec)
        else:
            changed = changed_scene(objs, rng)
            if stage == "caption":
                text, right = qs.caption(changed), qs.caption(objs)
            elif stage == "reasoning":
                text, right = qs.solve(spec, changed)[0], right_reasoning
            else:
                text, right = qs.solve(spec, changed)[1], right_conclusion
        if text and text != right:
            return text
    return None


def slip_kinds():
    """The kinds whose answers can slip (counts too with questions.COUNTED)."""
    return ["choice", "extreme", "position"] + (qs.COUNT_KINDS if qs.COUNTED else [])


def lookup_slip(stage, spec, objs, rng):
    """A wrong reasoning or conclusion that reads the right scene but copies the wrong neighbour,
    the slips the trained model makes where it must copy what *precedes* a match (an option's
    letter, the name before an odd size, the place before a name): another option's letter,
    another shape as the odd-sized one, or a shape placed where another one is
    (`questions.slip_of`). None when the question has no such slip. Checking one is a forward
    lookup (the letter's option, the named shape's size, what stands at the named place), which
    the judge can do; with `questions.CHECKS` the candidate does it itself."""
    slip = qs.slip_of(spec, objs, rng)
    if slip is None:
        return None
    right, wrong = qs.solve(spec, objs), qs.solve(spec, objs, slip)
    i = 0 if stage == "reasoning" else 1
    return wrong[i] if wrong[i] != right[i] else None


def judge_example(rng, slips=0.0):
    """(objs, image, instruction, verdict '1' or '2', stage). With probability `slips` the pair is
    a lookup slip (`lookup_slip`) of a choice, extreme or position question's reasoning or
    conclusion."""
    slip = slips > 0 and bool(rng.random() < slips)   # no draw at 0: the committed data stay as they were
    while True:
        objs = scenes.make_scene(rng)
        # position has no check in PONDER_DEMO_CHECKS=1
        kinds = (slip_kinds()[:2] if qs.CHECKS and not qs.WALK else slip_kinds()) if slip else qs.KINDS
        spec = qs.make_spec(objs, str(rng.choice(kinds)), rng)
        if spec is None:
            continue
        stage = str(rng.choice(["reasoning", "reasoning", "conclusion"])) if slip else \
            str(rng.choice(STAGES, p=JUDGE_STAGE_WEIGHTS))
        reasoning, conclusion = qs.solve(spec, objs)
        right = dict(summary=qs.summary_text(spec), caption=qs.caption(objs), reasoning=reasoning,
                     conclusion=conclusion)
        wrong = lookup_slip(stage, spec, objs, rng) if slip else wrong_stage(stage, spec, objs, rng)
        if wrong is None:
            continue
        history = [(s, right[s]) for s in STAGES[:STAGES.index(stage)]]
        first_right = bool(rng.random() < 0.5)
        pair = (right[stage], wrong) if first_right else (wrong, right[stage])
        text = judge_instruction(qs.question_text(spec), history, stage, *pair)
        return objs, scenes.render(objs, rng), text, "1" if first_right else "2", stage


def cell_labels(objs):
    """Per cell of the 3 x 3 grid, in reading order (the order of the image tokens): (0, 0, 0, 0)
    when empty, else (1, colour, shape, size) as indices; for an auxiliary loss on the image
    tokens (train.py --aux-cells)."""
    cells = [(0, 0, 0, 0)] * 9
    for o in objs:
        cells[3 * o["row"] + o["col"]] = (1, qs.COLOURS.index(o["colour"]), qs.SHAPES.index(o["shape"]),
                                          int(o["size"] == "large"))
    return cells


def record(seed, index, mix):
    """One training record, a pure function of (seed, index): mix = (P(conversation), P(judge)[,
    P(a judge record is a lookup slip)[, P(a choice or extreme answer is slipped and trained
    from its check on, with questions.CHECKS)]]); conversations have two or three turns."""
    rng = np.random.default_rng([seed, index])
    u = rng.random()
    if u < mix[1]:
        objs, im, text, verdict, stage = judge_example(rng, mix[2] if len(mix) > 2 else 0.0)
        return scenes.jpeg_bytes(im), dict(kind="judge", stage=stage, turns=[(text, verdict, verdict, "judge")],
                                           cells=cell_labels(objs))
    turns = 1 if u >= mix[0] + mix[1] else (2 if rng.random() < 0.6 else 3)
    specs = []
    objs, im, out = conversation(rng, turns, specs)
    extra = {}
    if len(mix) > 3 and mix[3] > 0 and out[-1][3] in slip_kinds() and rng.random() < mix[3]:
        # a slipped answer, trained from the check that reads the slip back on (questions.CHECKS)
        spec = specs[-1]
        slip = qs.slip_of(spec, objs, rng)
        span = slip is not None and qs.check_span(spec, objs, slip)
        if span:
            reasoning, conclusion = qs.solve(spec, objs, slip)
            head = f"<SUMMARY>{qs.summary_text(spec)}</SUMMARY>\n\n<CAPTION>{qs.caption(objs)}</CAPTION>\n\n<REASONING>"
            answer = qs.answer_text(qs.summary_text(spec), qs.caption(objs), reasoning, conclusion)
            assert answer.startswith(head + reasoning)
            out[-1] = (out[-1][0], answer, conclusion, out[-1][3])
            extra = dict(span=(len(head) + span[0], len(head) + span[1]))
    return scenes.jpeg_bytes(im), dict(kind=out[-1][3], turns=out, cells=cell_labels(objs), **extra)


def _worker(args):
    seed, lo, hi, mix = args
    return [record(seed, i, mix) for i in range(lo, hi)]


def generate(seed, n, mix, workers=1):
    """`n` records (see `record`), in index order."""
    return scenes.in_chunks(_worker, seed, n, mix, workers)
